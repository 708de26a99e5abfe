//go:build integration

package tokenstore_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
)

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	store, table := newStore(t)
	expires := time.Now().Add(time.Hour).Truncate(time.Second).UTC()

	listPlain, listTok, err := store.Mint(ctx, tokenstore.MintInput{User: "alice", Projects: []int64{3, 1, 2, 3}})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	allPlain, allTok, err := store.Mint(ctx, tokenstore.MintInput{User: "bob", Organization: "acme", AllProjects: true, ExpiresAt: &expires})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	for _, p := range []string{listPlain, allPlain} {
		if !strings.HasPrefix(p, tokenstore.TokenPrefix) || len(p) < len(tokenstore.TokenPrefix)+50 {
			t.Errorf("plaintext %q is not a prefixed 256-bit token", p)
		}
	}
	if listPlain == allPlain {
		t.Fatal("two mints returned the same plaintext")
	}
	if want := []int64{1, 2, 3}; !reflect.DeepEqual(listTok.Projects, want) {
		t.Errorf("projects = %v, want %v", listTok.Projects, want)
	}
	if listTok.TokenID != auth.IDFromHash(auth.Hash(listPlain)) || len(listTok.TokenID) != 12 {
		t.Errorf("token id = %q", listTok.TokenID)
	}

	for _, tc := range []struct {
		plain string
		want  auth.Token
	}{{listPlain, listTok}, {allPlain, allTok}} {
		rec, err := store.Lookup(ctx, auth.Hash(tc.plain))
		if err != nil {
			t.Fatalf("lookup %s: %v", tc.want.TokenID, err)
		}
		if rec.Hash != auth.Hash(tc.plain) {
			t.Errorf("lookup hash = %q", rec.Hash)
		}
		if !reflect.DeepEqual(rec.Token, tc.want) {
			t.Errorf("lookup = %+v, want %+v", rec.Token, tc.want)
		}
	}
	if got := allTok.ExpiresAt; got == nil || !got.Equal(expires) {
		t.Errorf("expires = %v, want %v", got, expires)
	}
	if _, err := store.Lookup(ctx, auth.Hash("lsdbx_unknown")); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("lookup unknown: err = %v, want ErrNotFound", err)
	}

	tokens, err := store.List(ctx)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(tokens) != 2 {
		t.Fatalf("list = %+v, want 2 tokens", tokens)
	}
	got := map[string]auth.Token{}
	for _, tok := range tokens {
		got[tok.TokenID] = tok
	}
	if !reflect.DeepEqual(got[listTok.TokenID], listTok) || !reflect.DeepEqual(got[allTok.TokenID], allTok) {
		t.Errorf("list = %+v, want %+v and %+v", tokens, listTok, allTok)
	}

	if err := store.Revoke(ctx, listTok.TokenID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	rec, err := store.Lookup(ctx, auth.Hash(listPlain))
	if err != nil {
		t.Fatal(err)
	}
	if rec.RevokedAt == nil || rec.Active(time.Now()) {
		t.Errorf("revoked token = %+v, want revoked_at set", rec.Token)
	}
	first := *rec.RevokedAt
	if err := store.Revoke(ctx, listTok.TokenID); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if rec, _ := store.Lookup(ctx, auth.Hash(listPlain)); rec.RevokedAt == nil || !rec.RevokedAt.Equal(first) {
		t.Errorf("second revoke changed revoked_at to %v", rec.RevokedAt)
	}
	if err := store.Revoke(ctx, "000000000000"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoke unknown: err = %v, want ErrNotFound", err)
	}
	if rec, _ := store.Lookup(ctx, auth.Hash(allPlain)); rec.RevokedAt != nil {
		t.Error("revoking one token revoked another")
	}
	tokens, _ = store.List(ctx)
	for _, tok := range tokens {
		if (tok.TokenID == listTok.TokenID) != (tok.RevokedAt != nil) {
			t.Errorf("list after revoke: %+v", tok)
		}
	}

	// Token items stay out of the by-project index and hold no plaintext.
	indexed, err := store.Client.(*dynamodb.Client).Scan(ctx, &dynamodb.ScanInput{
		TableName: aws.String(table), IndexName: aws.String("by-project"),
	})
	if err != nil || len(indexed.Items) != 0 {
		t.Errorf("by-project index holds %v, %v; want nothing", indexed, err)
	}
	items := testenv.ScanTable(t, table)
	if len(items) != 2 {
		t.Fatalf("table holds %d items, want 2", len(items))
	}
	for _, item := range items {
		pk := item["pk"].(*types.AttributeValueMemberS).Value
		if pk != "TOKEN#"+auth.Hash(listPlain) && pk != "TOKEN#"+auth.Hash(allPlain) {
			t.Errorf("unexpected pk %q", pk)
		}
		if _, ok := item["project"]; ok {
			t.Errorf("token item %s has a project attribute", pk)
		}
		for name, av := range item {
			for _, s := range attributeStrings(av.(types.AttributeValue)) {
				for _, plain := range []string{listPlain, allPlain} {
					secret := strings.TrimPrefix(plain, tokenstore.TokenPrefix)
					if strings.Contains(strings.ToLower(s), secret) {
						t.Errorf("attribute %s of %s holds a plaintext token", name, pk)
					}
				}
			}
		}
	}
}

func TestMintFixedPlaintextNeverOverwrites(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t)
	const fixed = "local-dev-token-0123456789abcdef"
	plain, tok, err := store.Mint(ctx, tokenstore.MintInput{User: "local", AllProjects: true, Plaintext: fixed})
	if err != nil || plain != fixed {
		t.Fatalf("mint = %q, %v", plain, err)
	}
	_, _, err = store.Mint(ctx, tokenstore.MintInput{User: "mallory", Projects: []int64{9}, Plaintext: fixed})
	if !errors.Is(err, tokenstore.ErrTokenExists) {
		t.Fatalf("second mint: err = %v, want ErrTokenExists", err)
	}
	if strings.Contains(err.Error(), fixed) {
		t.Errorf("error %q contains the plaintext", err)
	}
	rec, err := store.Lookup(ctx, auth.Hash(fixed))
	if err != nil || rec.User != "local" || !rec.AllProjects || rec.TokenID != tok.TokenID {
		t.Errorf("stored token = %+v, %v; want the first one", rec, err)
	}
}

// panicClient fails the test if validation lets a bad input reach DynamoDB.
type panicClient struct{ tokenstore.API }

func TestMintValidation(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	past, soon := now.Add(-time.Second), now.Add(500*time.Millisecond)
	store := &tokenstore.Store{Client: panicClient{}, Table: "unused", Now: func() time.Time { return now }}
	for _, tc := range []struct {
		name string
		in   tokenstore.MintInput
	}{
		{"no user", tokenstore.MintInput{Projects: []int64{1}}},
		{"blank user", tokenstore.MintInput{User: "  ", Projects: []int64{1}}},
		{"no projects", tokenstore.MintInput{User: "a"}},
		{"both scopes", tokenstore.MintInput{User: "a", AllProjects: true, Projects: []int64{1}}},
		{"zero project", tokenstore.MintInput{User: "a", Projects: []int64{1, 0}}},
		{"negative project", tokenstore.MintInput{User: "a", Projects: []int64{-4}}},
		{"expired", tokenstore.MintInput{User: "a", AllProjects: true, ExpiresAt: &past}},
		{"expires within the second", tokenstore.MintInput{User: "a", AllProjects: true, ExpiresAt: &soon}},
		{"plaintext with space", tokenstore.MintInput{User: "a", AllProjects: true, Plaintext: "secret value here"}},
		{"plaintext with newline", tokenstore.MintInput{User: "a", AllProjects: true, Plaintext: "secret\nvalue"}},
		{"long plaintext", tokenstore.MintInput{User: "a", AllProjects: true, Plaintext: strings.Repeat("x", 1025)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := store.Mint(context.Background(), tc.in)
			if !errors.Is(err, tokenstore.ErrInvalidInput) {
				t.Fatalf("err = %v, want ErrInvalidInput", err)
			}
			if tc.in.Plaintext != "" && strings.Contains(err.Error(), tc.in.Plaintext) {
				t.Errorf("error %q contains the plaintext", err)
			}
		})
	}
}

func TestStoreErrorsAreNotInvalidToken(t *testing.T) {
	ctx := context.Background()
	store := &tokenstore.Store{Client: dynamodb.NewFromConfig(testenv.AWSConfig(t)), Table: "no-such-table"}
	_, err := store.Lookup(ctx, auth.Hash("x"))
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) || errors.Is(err, auth.ErrNotFound) {
		t.Errorf("lookup on missing table: err = %v, want ResourceNotFoundException", err)
	}
	a := &auth.Authenticator{Store: store}
	_, err = a.Authenticate(ctx, "Token lsdbx_whatever")
	if err == nil || errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrNoCredentials) || !errors.As(err, &notFound) {
		t.Errorf("authenticate on missing table: err = %v, want a wrapped store error", err)
	}
	if _, err := store.List(ctx); !errors.As(err, &notFound) {
		t.Errorf("list: err = %v", err)
	}
	if err := store.Revoke(ctx, "abc"); !errors.As(err, &notFound) {
		t.Errorf("revoke: err = %v", err)
	}
}
