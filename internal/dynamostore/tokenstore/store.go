// Package tokenstore keeps the service's API tokens in its DynamoDB table (the
// TOKEN# items that package dynamostore's documentation describes): mint,
// look up, list and revoke. Package auth decides what a token may do.
package tokenstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
)

// ErrTokenExists is returned by Store.Mint when a token with the same hash is
// already stored, which in practice only happens for a fixed plaintext.
var ErrTokenExists = errors.New("token already exists")

// ErrInvalidInput is returned by Store.Mint for an unusable MintInput.
var ErrInvalidInput = errors.New("invalid token input")

// API is the part of the DynamoDB client the Store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// TokenPrefix starts every minted token, so leaked tokens are easy to spot
// with secret scanners.
const TokenPrefix = "lsdbx_"

// tokenBytes is the randomness of a minted token: 256 bits.
const tokenBytes = 32

// maxPlaintextLen bounds a caller-chosen plaintext.
const maxPlaintextLen = 1024

const (
	kindToken = "token"
)

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Store mints, finds, lists and revokes tokens in a DynamoDB table.
type Store struct {
	// Client talks to DynamoDB.
	Client API
	// Table is the service's table.
	Table string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// MintInput describes a token to mint.
type MintInput struct {
	// User is required.
	User string
	// Organization is optional.
	Organization string
	// Projects lists the granted project ids (positive); required unless
	// AllProjects is set, and must be empty if it is.
	Projects []int64
	// AllProjects grants every project.
	AllProjects bool
	// ExpiresAt, if set, must be in the future; it is stored with second
	// precision, rounded down.
	ExpiresAt *time.Time
	// Plaintext, if set, is used instead of a random token, e.g. for a
	// fixed local development token. It must not contain whitespace and
	// should be as unguessable as a minted one.
	Plaintext string
}

// tokenItem is the DynamoDB shape of a token.
type tokenItem struct {
	PK           string  `dynamodbav:"pk"`
	Kind         string  `dynamodbav:"kind"`
	TokenID      string  `dynamodbav:"token_id"`
	User         string  `dynamodbav:"user"`
	Organization string  `dynamodbav:"organization,omitempty"`
	AllProjects  bool    `dynamodbav:"all_projects,omitempty"`
	Projects     []int64 `dynamodbav:"projects,numberset,omitempty"`
	CreatedAt    string  `dynamodbav:"created_at"`
	ExpiresAt    *int64  `dynamodbav:"expires_at,omitempty"`
	RevokedAt    *string `dynamodbav:"revoked_at,omitempty"`
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func tokenKey(hash string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: dynamostore.TokenKey(hash)}}
}

// newPlaintext returns a fresh random token.
func newPlaintext() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never returns an error; it crashes the program instead
	return TokenPrefix + strings.ToLower(tokenEncoding.EncodeToString(b))
}

// Mint stores a new token and returns its plaintext, which is not kept
// anywhere and cannot be recovered later. It never overwrites a stored token:
// a plaintext that is already stored gives ErrTokenExists.
func (s *Store) Mint(ctx context.Context, in MintInput) (string, auth.Token, error) {
	now := s.now().UTC().Truncate(time.Second)
	projects, err := validateMint(in, now)
	if err != nil {
		return "", auth.Token{}, fmt.Errorf("mint token: %w", err)
	}
	plaintext := in.Plaintext
	if plaintext == "" {
		plaintext = newPlaintext()
	}
	hash := auth.Hash(plaintext)
	tok := auth.Token{
		TokenID:      auth.IDFromHash(hash),
		User:         in.User,
		Organization: in.Organization,
		AllProjects:  in.AllProjects,
		Projects:     projects,
		CreatedAt:    now,
	}
	it := tokenItem{
		PK: dynamostore.TokenKey(hash), Kind: kindToken, TokenID: tok.TokenID, User: tok.User,
		Organization: tok.Organization, AllProjects: tok.AllProjects, Projects: tok.Projects,
		CreatedAt: now.Format(time.RFC3339),
	}
	if in.ExpiresAt != nil {
		exp := in.ExpiresAt.Unix()
		it.ExpiresAt = &exp
		t := time.Unix(exp, 0).UTC()
		tok.ExpiresAt = &t
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return "", auth.Token{}, fmt.Errorf("mint token: marshal: %w", err)
	}
	_, err = s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.Table),
		Item:                av,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var condErr *types.ConditionalCheckFailedException
	if errors.As(err, &condErr) {
		return "", auth.Token{}, fmt.Errorf("mint token %s: %w", tok.TokenID, ErrTokenExists)
	}
	if err != nil {
		return "", auth.Token{}, fmt.Errorf("mint token %s: %w", tok.TokenID, err)
	}
	return plaintext, tok, nil
}

// validateMint checks in and returns its projects sorted and deduplicated.
// Its messages never quote the plaintext.
func validateMint(in MintInput, now time.Time) ([]int64, error) {
	if strings.TrimSpace(in.User) == "" {
		return nil, fmt.Errorf("%w: user is required", ErrInvalidInput)
	}
	switch {
	case in.AllProjects && len(in.Projects) > 0:
		return nil, fmt.Errorf("%w: give either projects or all projects, not both", ErrInvalidInput)
	case !in.AllProjects && len(in.Projects) == 0:
		return nil, fmt.Errorf("%w: give projects or all projects", ErrInvalidInput)
	}
	for _, p := range in.Projects {
		if p <= 0 {
			return nil, fmt.Errorf("%w: project id %d is not positive", ErrInvalidInput, p)
		}
	}
	if in.ExpiresAt != nil && in.ExpiresAt.Unix() <= now.Unix() {
		return nil, fmt.Errorf("%w: expiry %s is not in the future", ErrInvalidInput, in.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if in.Plaintext != "" {
		if len(in.Plaintext) > maxPlaintextLen {
			return nil, fmt.Errorf("%w: plaintext longer than %d bytes", ErrInvalidInput, maxPlaintextLen)
		}
		if strings.ContainsFunc(in.Plaintext, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return nil, fmt.Errorf("%w: plaintext contains whitespace or control characters", ErrInvalidInput)
		}
	}
	projects := slices.Clone(in.Projects)
	slices.Sort(projects)
	return slices.Compact(projects), nil
}

// Lookup returns the token stored under hash (see auth.Hash), revoked and expired
// ones included; an unknown hash gives auth.ErrNotFound. It reads consistently, so
// a revocation is seen at once.
func (s *Store) Lookup(ctx context.Context, hash string) (auth.Record, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            tokenKey(hash),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return auth.Record{}, fmt.Errorf("look up token: %w", err)
	}
	if out.Item == nil {
		return auth.Record{}, fmt.Errorf("look up token: %w", auth.ErrNotFound)
	}
	var it tokenItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return auth.Record{}, fmt.Errorf("look up token: decode: %w", err)
	}
	if it.Kind != kindToken {
		return auth.Record{}, fmt.Errorf("look up token: %w", auth.ErrNotFound)
	}
	tok, err := decodeToken(it)
	if err != nil {
		return auth.Record{}, err
	}
	return auth.Record{Token: tok, Hash: dynamostore.TokenHashFromKey(it.PK)}, nil
}

func decodeToken(it tokenItem) (auth.Token, error) {
	created, err := time.Parse(time.RFC3339, it.CreatedAt)
	if err != nil {
		return auth.Token{}, fmt.Errorf("decode token %s created_at: %w", it.TokenID, err)
	}
	tok := auth.Token{
		TokenID: it.TokenID, User: it.User, Organization: it.Organization,
		AllProjects: it.AllProjects, Projects: it.Projects, CreatedAt: created,
	}
	slices.Sort(tok.Projects)
	if it.ExpiresAt != nil {
		t := time.Unix(*it.ExpiresAt, 0).UTC()
		tok.ExpiresAt = &t
	}
	if it.RevokedAt != nil {
		t, err := time.Parse(time.RFC3339, *it.RevokedAt)
		if err != nil {
			return auth.Token{}, fmt.Errorf("decode token %s revoked_at: %w", it.TokenID, err)
		}
		tok.RevokedAt = &t
	}
	return tok, nil
}

// scanTokens scans the table for token items matching filter (ANDed with
// kind = "token"), reading only the attributes in projection. names maps the
// "#name" placeholders the filter and projection use, other than #kind.
func (s *Store) scanTokens(ctx context.Context, filter, projection string, names map[string]string, values map[string]types.AttributeValue) ([]tokenItem, error) {
	expr := "#kind = :kind"
	if filter != "" {
		expr += " AND (" + filter + ")"
	}
	allNames := map[string]string{"#kind": "kind"}
	maps.Copy(allNames, names)
	allValues := map[string]types.AttributeValue{":kind": &types.AttributeValueMemberS{Value: kindToken}}
	maps.Copy(allValues, values)
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.Table),
		FilterExpression:          aws.String(expr),
		ProjectionExpression:      aws.String(projection),
		ExpressionAttributeNames:  allNames,
		ExpressionAttributeValues: allValues,
		ConsistentRead:            aws.Bool(true),
	}
	var items []tokenItem
	p := dynamodb.NewScanPaginator(s.Client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, av := range page.Items {
			var it tokenItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, fmt.Errorf("decode token item: %w", err)
			}
			items = append(items, it)
		}
	}
	return items, nil
}

// List returns every stored token, revoked and expired ones included (until
// DynamoDB's time to live deletes them), oldest first. It reads no hashes:
// the key attribute is not even fetched.
func (s *Store) List(ctx context.Context) ([]auth.Token, error) {
	items, err := s.scanTokens(ctx, "",
		"#kind, #id, #user, #org, #all, #projects, #created, #expires, #revoked",
		map[string]string{
			"#id": "token_id", "#user": "user", "#org": "organization", "#all": "all_projects",
			"#projects": "projects", "#created": "created_at", "#expires": dynamostore.TTLAttribute, "#revoked": "revoked_at",
		}, nil)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	tokens := make([]auth.Token, 0, len(items))
	for _, it := range items {
		tok, err := decodeToken(it)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		tokens = append(tokens, tok)
	}
	slices.SortFunc(tokens, func(a, b auth.Token) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.TokenID, b.TokenID))
	})
	return tokens, nil
}

// Revoke marks the token with the given public id as revoked. Revoking a
// revoked token changes nothing and succeeds; an unknown id gives
// auth.ErrNotFound. It scans the table, which is fine for an operator's command
// but not for a request path.
func (s *Store) Revoke(ctx context.Context, tokenID string) error {
	if tokenID == "" {
		return fmt.Errorf("revoke token: %w", auth.ErrNotFound)
	}
	items, err := s.scanTokens(ctx, "#id = :id", "pk",
		map[string]string{"#id": "token_id"},
		map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: tokenID}})
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", tokenID, err)
	}
	switch len(items) {
	case 0:
		return fmt.Errorf("revoke token %s: %w", tokenID, auth.ErrNotFound)
	case 1:
	default:
		return fmt.Errorf("revoke token %s: %d tokens share this id", tokenID, len(items))
	}
	_, err = s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: items[0].PK}},
		UpdateExpression:    aws.String("SET revoked_at = :now"),
		ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(revoked_at)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": &types.AttributeValueMemberS{Value: s.now().UTC().Format(time.RFC3339)},
		},
	})
	var condErr *types.ConditionalCheckFailedException
	if errors.As(err, &condErr) {
		// Already revoked, or deleted by time to live since the scan.
		return nil
	}
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", tokenID, err)
	}
	return nil
}
