//go:build integration

package tokenstore_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
)

// The authenticator over the real token store in moto.

// newStore returns a Store over a fresh moto table.
func newStore(t *testing.T) (*tokenstore.Store, string) {
	t.Helper()
	table := testenv.NewTable(t)
	return &tokenstore.Store{Client: dynamodb.NewFromConfig(testenv.AWSConfig(t)), Table: table}, table
}

// clock is a settable fake time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// countingStore counts the lookups that reach the wrapped store.
type countingStore struct {
	auth.Lookuper
	mu sync.Mutex
	n  int
}

func (c *countingStore) Lookup(ctx context.Context, hash string) (auth.Record, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Lookuper.Lookup(ctx, hash)
}

func (c *countingStore) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestAuthenticateMatrix(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t)
	start := time.Now()
	expiry := start.Add(time.Hour)

	valid, validTok, err := store.Mint(ctx, tokenstore.MintInput{User: "alice", Organization: "acme", Projects: []int64{7, 8}})
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedTok, err := store.Mint(ctx, tokenstore.MintInput{User: "bob", AllProjects: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Revoke(ctx, revokedTok.TokenID); err != nil {
		t.Fatal(err)
	}
	expiring, _, err := store.Mint(ctx, tokenstore.MintInput{User: "carol", AllProjects: true, ExpiresAt: &expiry})
	if err != nil {
		t.Fatal(err)
	}
	wantValid := core.Principal{TokenID: validTok.TokenID, User: "alice", Organization: "acme", Projects: []int64{7, 8}}

	for _, tc := range []struct {
		name    string
		header  string
		now     time.Time
		want    core.Principal
		wantErr error
	}{
		{name: "missing header", header: "", wantErr: auth.ErrNoCredentials},
		{name: "blank header", header: "   ", wantErr: auth.ErrNoCredentials},
		{name: "scheme without key", header: "Token", wantErr: auth.ErrNoCredentials},
		{name: "scheme with blank key", header: "Token    ", wantErr: auth.ErrNoCredentials},
		{name: "bare key", header: valid, wantErr: auth.ErrNoCredentials},
		{name: "basic scheme", header: "Basic x", wantErr: auth.ErrNoCredentials},
		{name: "basic scheme with valid key", header: "Basic " + valid, wantErr: auth.ErrNoCredentials},
		{name: "two keys", header: "Token " + valid + " " + valid, wantErr: auth.ErrNoCredentials},
		{name: "unknown token", header: "Token lsdbx_not-a-real-token", wantErr: auth.ErrInvalidToken},
		{name: "valid key with extra prefix", header: "Token x" + valid, wantErr: auth.ErrInvalidToken},
		{name: "revoked token", header: "Token " + revoked, wantErr: auth.ErrInvalidToken},
		{name: "expired token", header: "Token " + expiring, now: expiry, wantErr: auth.ErrInvalidToken},
		{name: "long expired token", header: "Token " + expiring, now: expiry.Add(time.Hour), wantErr: auth.ErrInvalidToken},
		{name: "expiring token before expiry", header: "Token " + expiring, now: expiry.Add(-2 * time.Second),
			want: core.Principal{TokenID: auth.IDFromHash(auth.Hash(expiring)), User: "carol", AllProjects: true}},
		{name: "Token", header: "Token " + valid, want: wantValid},
		{name: "token", header: "token " + valid, want: wantValid},
		{name: "TOKEN", header: "TOKEN " + valid, want: wantValid},
		{name: "Bearer", header: "Bearer " + valid, want: wantValid},
		{name: "bearer", header: "bearer " + valid, want: wantValid},
		{name: "surrounding whitespace", header: " \tToken \t " + valid + " \r\n", want: wantValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = start
			}
			a := &auth.Authenticator{Store: store, Now: func() time.Time { return now }}
			got, err := a.Authenticate(ctx, tc.header)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				for _, secret := range []string{valid, revoked, expiring} {
					if strings.Contains(err.Error(), strings.TrimPrefix(secret, tokenstore.TokenPrefix)) {
						t.Errorf("error %q contains a token", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("principal = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCacheRevokedTokenWorksAtMostCacheTTL(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t)
	plain, tok, err := store.Mint(ctx, tokenstore.MintInput{User: "alice", Projects: []int64{1}})
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 30 * time.Second
	clk := &clock{t: time.Now()}
	start := clk.Now()
	counting := &countingStore{Lookuper: store}
	a := &auth.Authenticator{Store: counting, CacheTTL: ttl, Now: clk.Now}
	header := "Token " + plain

	if _, err := a.Authenticate(ctx, header); err != nil {
		t.Fatal(err)
	}
	if err := store.Revoke(ctx, tok.TokenID); err != nil {
		t.Fatal(err)
	}
	clk.Set(start.Add(ttl - time.Nanosecond))
	if _, err := a.Authenticate(ctx, header); err != nil {
		t.Fatalf("within CacheTTL of the lookup: err = %v, want the cached success", err)
	}
	if n := counting.count(); n != 1 {
		t.Fatalf("lookups = %d, want 1 (cached)", n)
	}
	clk.Set(start.Add(ttl))
	if _, err := a.Authenticate(ctx, header); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("CacheTTL after the lookup: err = %v, want ErrInvalidToken", err)
	}
	if n := counting.count(); n != 2 {
		t.Fatalf("lookups = %d, want 2", n)
	}
	// The rejection is remembered briefly, and stays a rejection afterwards.
	if _, err := a.Authenticate(ctx, header); !errors.Is(err, auth.ErrInvalidToken) || counting.count() != 2 {
		t.Fatalf("err = %v, lookups = %d; want cached ErrInvalidToken", err, counting.count())
	}
	clk.Set(start.Add(ttl + 5*time.Second))
	if _, err := a.Authenticate(ctx, header); !errors.Is(err, auth.ErrInvalidToken) || counting.count() != 3 {
		t.Fatalf("err = %v, lookups = %d; want a fresh ErrInvalidToken", err, counting.count())
	}
}

// attributeStrings flattens every string, number and binary value of an item.
func attributeStrings(av types.AttributeValue) []string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return []string{v.Value}
	case *types.AttributeValueMemberN:
		return []string{v.Value}
	case *types.AttributeValueMemberB:
		return []string{string(v.Value)}
	case *types.AttributeValueMemberSS:
		return v.Value
	case *types.AttributeValueMemberNS:
		return v.Value
	case *types.AttributeValueMemberBS:
		var out []string
		for _, b := range v.Value {
			out = append(out, string(b))
		}
		return out
	case *types.AttributeValueMemberL:
		var out []string
		for _, e := range v.Value {
			out = append(out, attributeStrings(e)...)
		}
		return out
	case *types.AttributeValueMemberM:
		var out []string
		for k, e := range v.Value {
			out = append(out, k)
			out = append(out, attributeStrings(e)...)
		}
		return out
	default:
		return nil
	}
}
