//go:build integration

package main

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env returns a getenv that knows only TABLE_NAME.
func env(table string) func(string) string {
	return func(k string) string {
		if k == "TABLE_NAME" {
			return table
		}
		return ""
	}
}

// runOK runs a command that must succeed and returns its stdout.
func runOK(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr, getenv); err != nil {
		t.Fatalf("tokens %v: %v\nstderr: %s", args, err, stderr.String())
	}
	return stdout.String()
}

// field returns the value of a "name: value" line.
func field(t *testing.T, out, name string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q line in %q", name, out)
	return ""
}

func TestCreateListAuthenticateRevoke(t *testing.T) {
	ctx := context.Background()
	table := testenv.NewTable(t)
	getenv := env(table)

	out := runOK(t, getenv, "create", "-user", "alice", "-org", "acme", "-projects", "3, 1,2", "-expires", "720h")
	id, plaintext := field(t, out, "token_id"), field(t, out, "token")
	if !strings.HasPrefix(plaintext, tokenstore.TokenPrefix) || id != auth.IDFromHash(auth.Hash(plaintext)) {
		t.Fatalf("create printed id %q, token %q", id, plaintext)
	}
	// -table overrides TABLE_NAME.
	out = runOK(t, env("ignored"), "create", "-table", table, "-user", "bob", "-all-projects")
	otherID, otherPlain := field(t, out, "token_id"), field(t, out, "token")

	list := runOK(t, getenv, "list")
	t.Logf("list:\n%s", list)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TOKEN_ID") {
		t.Fatalf("list = %q, want a header and 2 rows", list)
	}
	for _, want := range []struct {
		id   string
		head []string // TOKEN_ID USER ORG PROJECTS
		tail []string // the last columns, after CREATED
	}{
		{id, []string{id, "alice", "acme", "1,2,3"}, []string{"-"}},         // expiry set, not revoked
		{otherID, []string{otherID, "bob", "-", "all"}, []string{"-", "-"}}, // no expiry, not revoked
	} {
		var row []string
		for _, l := range lines[1:] {
			if f := strings.Fields(l); f[0] == want.id {
				row = f
			}
		}
		if len(row) != 7 {
			t.Fatalf("list row for %s = %q in %q", want.id, row, list)
		}
		if head, tail := row[:4], row[len(row)-len(want.tail):]; !reflect.DeepEqual(head, want.head) || !reflect.DeepEqual(tail, want.tail) {
			t.Errorf("row = %q, want %q ... %q", row, want.head, want.tail)
		}
	}
	for _, secret := range []string{plaintext, otherPlain, auth.Hash(plaintext), auth.Hash(otherPlain)} {
		if strings.Contains(list, secret) || strings.Contains(list, strings.TrimPrefix(secret, tokenstore.TokenPrefix)) {
			t.Errorf("list output holds a token or hash: %q", list)
		}
	}

	store := &tokenstore.Store{Client: dynamodb.NewFromConfig(testenv.AWSConfig(t)), Table: table}
	a := &auth.Authenticator{Store: store}
	p, err := a.Authenticate(ctx, "Token "+plaintext)
	if err != nil {
		t.Fatalf("authenticate minted token: %v", err)
	}
	want := core.Principal{TokenID: id, User: "alice", Organization: "acme", Projects: []int64{1, 2, 3}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("principal = %+v, want %+v", p, want)
	}
	if !p.CanManage(2) || p.CanManage(4) {
		t.Errorf("principal %+v has the wrong projects", p)
	}

	if out := runOK(t, getenv, "revoke", id); strings.TrimSpace(out) != "revoked "+id {
		t.Errorf("revoke printed %q", out)
	}
	if _, err := a.Authenticate(ctx, "Token "+plaintext); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("authenticate revoked token: err = %v, want ErrInvalidToken", err)
	}
	if _, err := a.Authenticate(ctx, "Token "+otherPlain); err != nil {
		t.Errorf("the other token stopped working: %v", err)
	}
	for line := range strings.Lines(runOK(t, getenv, "list")) {
		f := strings.Fields(line)
		revoked := f[len(f)-1]
		switch f[0] {
		case id:
			if _, err := time.Parse(time.RFC3339, revoked); err != nil {
				t.Errorf("revoked column of %s = %q", id, revoked)
			}
		case otherID:
			if revoked != "-" {
				t.Errorf("revoked column of %s = %q", otherID, revoked)
			}
		}
	}
	// Flags may follow the id; revoking twice is fine.
	runOK(t, env(""), "revoke", id, "-table", table)
}

func TestRunErrors(t *testing.T) {
	table := testenv.NewTable(t)
	for _, tc := range []struct {
		name    string
		table   string
		args    []string
		want    error
		wantMsg string
	}{
		{name: "no command", args: nil, want: errUsage},
		{name: "unknown command", args: []string{"mint"}, want: errUsage},
		{name: "no table", args: []string{"list"}, want: errUsage, wantMsg: "TABLE_NAME"},
		{name: "create without table", args: []string{"create", "-user", "a", "-all-projects"}, want: errUsage},
		{name: "create without user", table: table, args: []string{"create", "-all-projects"}, want: errUsage},
		{name: "create without scope", table: table, args: []string{"create", "-user", "a"}, want: errUsage},
		{name: "create with both scopes", table: table, args: []string{"create", "-user", "a", "-all-projects", "-projects", "1"}, want: errUsage},
		{name: "bad project", table: table, args: []string{"create", "-user", "a", "-projects", "1,x"}, want: errUsage},
		{name: "zero project", table: table, args: []string{"create", "-user", "a", "-projects", "0"}, want: errUsage},
		{name: "negative expiry", table: table, args: []string{"create", "-user", "a", "-all-projects", "-expires", "-1h"}, want: errUsage},
		{name: "bad expiry", table: table, args: []string{"create", "-user", "a", "-all-projects", "-expires", "30d"}, want: errUsage},
		{name: "unknown flag", table: table, args: []string{"list", "-verbose"}, want: errUsage},
		{name: "list argument", table: table, args: []string{"list", "extra"}, want: errUsage},
		{name: "revoke without id", table: table, args: []string{"revoke"}, want: errUsage},
		{name: "revoke two ids", table: table, args: []string{"revoke", "a", "b"}, want: errUsage},
		{name: "revoke unknown id", table: table, args: []string{"revoke", "000000000000"}, want: auth.ErrNotFound},
		{name: "missing table in AWS", table: "no-such-table", args: []string{"list"}, wantMsg: "ResourceNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr, env(tc.table))
			if err == nil {
				t.Fatalf("no error; stdout %q", stdout.String())
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tc.wantMsg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}
