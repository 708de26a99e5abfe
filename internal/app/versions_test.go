//go:build integration

package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/dynamostore/tokenstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// gateChecker holds the first check of a connection hold selects until
// release is closed (telling entered); every other check passes at once.
type gateChecker struct {
	mu      sync.Mutex
	hold    func(storage.Connection) bool
	held    bool
	entered chan struct{}
	release chan struct{}
	last    storage.Connection
}

func (g *gateChecker) CheckConnection(ctx context.Context, c storage.Connection) error {
	g.mu.Lock()
	g.last = c
	wait := g.hold != nil && g.hold(c) && !g.held
	if wait {
		g.held = true
	}
	g.mu.Unlock()
	if wait {
		close(g.entered)
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (g *gateChecker) lastChecked() storage.Connection {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// failingRecords fails record writes while fail is set.
type failingRecords struct {
	core.Records
	fail atomic.Bool
}

func (r *failingRecords) ReplaceStorage(ctx context.Context, rec storage.Record) error {
	if r.fail.Load() {
		return errors.New("injected: ProvisionedThroughputExceededException")
	}
	return r.Records.ReplaceStorage(ctx, rec)
}

// readVersion reads one version of a secret straight from Secrets Manager.
func readVersion(t *testing.T, arn, versionID string) string {
	t.Helper()
	out, err := secretsmanager.NewFromConfig(testenv.AWSConfig(t)).GetSecretValue(context.Background(),
		&secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: aws.String(versionID)})
	if err != nil {
		t.Fatalf("read version %s of %s: %v", versionID, arn, err)
	}
	return aws.ToString(out.SecretString)
}

// The interleavings of core's TestInterleavedUpdates against moto's
// DynamoDB and Secrets Manager, through the API: the outer request's
// connection check is held while the inner request runs to its end.
// Afterwards the record names a secret version that holds the credentials
// of the last request that succeeded, and the storage validates with them.
func TestInterleavedUpdatesAgainstMoto(t *testing.T) {
	const (
		host    = "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"
		tokenB  = "dapi-B-rotated-token-91c2"
		secretA = "A-client-secret-of-the-switch-3e7d"
	)
	switchSP := `{"auth_type": "dbx_sp", "client_id": "sp-client", "client_secret": "` + secretA + `"}`
	rotate := `{"token": "` + tokenB + `"}`
	isRotation := func(c storage.Connection) bool { return c.Secrets.Token == tokenB }
	isSwitch := func(c storage.Connection) bool { return c.Secrets.ClientSecret == secretA }
	table, prefix := testenv.NewTable(t), testenv.NewSecretPrefix(t)
	cases := []struct {
		name       string
		outer      string
		held       func(storage.Connection) bool
		inner      string // a patch, or "delete"
		outerFail  bool
		wantOuter  int
		wantAuth   storage.AuthType
		wantSecret string // in the record's version
	}{
		{"A inside B's check, B retries over A", rotate, isRotation, switchSP, false, 200, storage.AuthDatabricksSP, secretA},
		{"A inside B's check, B's write fails", rotate, isRotation, switchSP, true, 500, storage.AuthDatabricksSP, secretA},
		{"B inside A's check, A retries over B", switchSP, isSwitch, rotate, false, 200, storage.AuthDatabricksSP, secretA},
		{"B inside A's check, A's write fails", switchSP, isSwitch, rotate, true, 500, storage.AuthPAT, tokenB},
		{"delete inside an update's check", rotate, isRotation, "delete", false, 404, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gate := &gateChecker{}
			a := app.NewWithAWS(testenv.AWSConfig(t), config.Config{TableName: table, SecretNamePrefix: prefix, IDBlockSize: 1, SecretRecoveryDays: 7},
				slog.New(slog.DiscardHandler), app.Options{Checker: gate})
			records := &failingRecords{Records: a.Store}
			a.Manager.Records = records
			token, _, err := a.Tokens.Mint(context.Background(), tokenstore.MintInput{User: "interleave", AllProjects: true})
			if err != nil {
				t.Fatal(err)
			}
			f := &fixture{app: a, token: token}
			status, _, raw := f.call(t, "POST", "/api/storages/databricks/",
				`{"project": 5, "host": "`+host+`", "catalog": "c", "schema": "s", "volume": "v", "token": "dapi-original-0a1b"}`, nil)
			if status != 201 {
				t.Fatalf("create: %d %s", status, raw)
			}
			id := int64(decodeJSON[map[string]any](t, raw)["id"].(float64))
			path := fmt.Sprintf("/api/storages/databricks/%d", id)
			gate.mu.Lock()
			gate.hold, gate.entered, gate.release = c.held, make(chan struct{}), make(chan struct{})
			gate.mu.Unlock()

			outer := make(chan int, 1)
			go func() {
				status, _, _ := f.call(t, "PATCH", path, c.outer, nil)
				outer <- status
			}()
			<-gate.entered
			if c.inner == "delete" {
				if status, _, raw := f.call(t, "DELETE", path, "", nil); status != 204 {
					t.Fatalf("inner delete: %d %s", status, raw)
				}
			} else if status, _, raw := f.call(t, "PATCH", path, c.inner, nil); status != 200 {
				t.Fatalf("inner update: %d %s", status, raw)
			}
			records.fail.Store(c.outerFail)
			close(gate.release)
			got := <-outer
			records.fail.Store(false)
			if got != c.wantOuter {
				t.Errorf("outer request answered %d, want %d", got, c.wantOuter)
			}
			if c.inner == "delete" {
				if status, _, _ := f.call(t, "GET", path, "", nil); status != 404 {
					t.Errorf("the deleted storage is back: %d", status)
				}
				return
			}
			rec, err := a.Store.GetStorage(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if rec.AuthType != c.wantAuth || rec.SecretVersionID == "" || !strings.Contains(readVersion(t, rec.SecretARN, rec.SecretVersionID), c.wantSecret) {
				t.Errorf("record: auth %s, version %q; want %s with a version holding the last successful request's secret", rec.AuthType, rec.SecretVersionID, c.wantAuth)
			}
			if status, _, raw := f.call(t, "POST", "/api/storages/databricks/validate", fmt.Sprintf(`{"id": %d}`, id), nil); status != 200 {
				t.Fatalf("validate the stored storage: %d %s", status, raw)
			}
			if conn := gate.lastChecked(); conn.AuthType != c.wantAuth || (conn.Secrets.Token != c.wantSecret && conn.Secrets.ClientSecret != c.wantSecret) {
				t.Errorf("the stored storage is checked as %s with other credentials than the last successful request's", conn.AuthType)
			}
		})
	}
}

// moto 5.2.5 deviates from AWS here. AWS: UpdateSecretVersionStage moves a
// staging label (for AWSCURRENT, AWSPREVIOUS goes to the version it left),
// and GetSecretValue without VersionId or VersionStage reads AWSCURRENT
// (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html,
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html).
// moto moves the labels, and GetSecretValue with VersionStage AWSCURRENT
// finds the label, but GetSecretValue with neither still reads the version
// last made current by PutSecretValue. So no test here can rely on the
// default read after a stage move; the service never makes one (records
// name their version, ReadSecret names AWSCURRENT for records that don't).
// If this test fails, moto has been fixed: say so here and in the README.
func TestMotoDefaultReadIgnoresAStageMove(t *testing.T) {
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(testenv.AWSConfig(t))
	name := testenv.NewSecretPrefix(t) + "deviation"
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	second, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String("second")})
	if err != nil {
		t.Fatal(err)
	}
	// Move AWSCURRENT back to the older, first version.
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(name), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: created.VersionId, RemoveFromVersionId: second.VersionId,
	}); err != nil {
		t.Fatal(err)
	}
	read := func(in *secretsmanager.GetSecretValueInput) string {
		in.SecretId = aws.String(name)
		out, err := sm.GetSecretValue(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.SecretString)
	}
	desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if stages := desc.VersionIdsToStages[aws.ToString(created.VersionId)]; !strings.Contains(strings.Join(stages, ","), "AWSCURRENT") {
		t.Errorf("the label did not move: the first version has %v", stages)
	}
	if got := read(&secretsmanager.GetSecretValueInput{VersionStage: aws.String("AWSCURRENT")}); got != "first" {
		t.Errorf("GetSecretValue(VersionStage AWSCURRENT) = %q, want the version the label is on", got)
	}
	// AWS answers "first"; moto 5.2.5 answers "second".
	if got := read(&secretsmanager.GetSecretValueInput{}); got != "second" {
		t.Errorf("GetSecretValue() = %q: moto now follows the label as AWS does (this test pinned its deviation; update it and the README)", got)
	}
}

// A record written before records named their secret version (no
// secret_version_id in its item) reads the secret's AWSCURRENT version, and
// its first update pins it to a version.
func TestRecordsWithoutAVersionReadAWSCURRENT(t *testing.T) {
	f := newFixture(t, "", "")
	ctx := context.Background()
	id := f.createOne(t, 36)
	rec, err := f.app.Store.GetStorage(ctx, id)
	if err != nil || rec.SecretVersionID == "" {
		t.Fatalf("created record %+v names no version: %v", rec, err)
	}
	rec.SecretVersionID = "" // as the item of an older release
	if err := f.app.Store.ReplaceStorage(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if item, _ := f.app.Store.GetStorage(ctx, id); item.SecretVersionID != "" {
		t.Fatalf("the item still names a version")
	}
	path := fmt.Sprintf("/api/storages/databricks/%d", id)
	if status, _, raw := f.call(t, "POST", "/api/storages/databricks/validate", fmt.Sprintf(`{"id": %d}`, id), nil); status != 200 {
		t.Fatalf("validate a record without a version: %d %s", status, raw)
	}
	if status, _, raw := f.call(t, "PATCH", path, `{"title": "pinned"}`, nil); status != 200 {
		t.Fatalf("update a record without a version: %d %s", status, raw)
	}
	after, err := f.app.Store.GetStorage(ctx, id)
	if err != nil || after.SecretVersionID == "" || !strings.Contains(readVersion(t, after.SecretARN, after.SecretVersionID), secretToken) {
		t.Errorf("the update did not pin the record to the version it read: %q, %v", after.SecretVersionID, err)
	}
}
