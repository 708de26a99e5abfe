// Command load drives the local API with many concurrent creates and checks
// that what the callers saw and what AWS holds agree: errors, unique ids,
// secrets and records. `make load` runs it; it starts its own local
// environment (package localenv, always a fresh moto) and local API (the
// same handler `make run` serves).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/dev/localapi"
	"github.com/lsdbx/databricks-storage/internal/dev/localenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run() error {
	total := flag.Int("n", 5000, "creates to send")
	concurrency := flag.Int("c", 32, "concurrent callers")
	flag.Parse()
	ctx := context.Background()

	// Always a fresh emulator: the counts must be this run's alone.
	const table, prefix = "load-storages", "load/"
	env, err := localenv.Start(ctx, localenv.Options{Table: table, SecretPrefix: prefix, OwnAWS: true})
	if err != nil {
		return err
	}
	defer env.Close()
	env.Export()
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	opts := env.AppOptions()
	opts.Version = "load"
	service, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), opts)
	if err != nil {
		return err
	}
	token := env.Token
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	server := &http.Server{Handler: localapi.Handler{Lambda: service.Dispatcher}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(listener) }()
	defer server.Close()
	url := "http://" + listener.Addr().String() + "/api/storages/databricks/"
	fmt.Printf("moto at %s, fake workspace at %s\ndriving %s with %d creates at concurrency %d\n", env.Endpoint, env.WorkspaceURL(), url, *total, *concurrency)

	body := fmt.Sprintf(`{"project": 1, "host": %q, "catalog": "main", "schema": "default", "volume": "landing", "prefix": "images", "token": %q}`, env.WorkspaceURL(), fakeworkspace.DefaultPAT)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency}, Timeout: 60 * time.Second}
	var (
		errorsSeen atomic.Int64
		mu         sync.Mutex
		ids        = map[int64]bool{}
		firstErr   string
		wg         sync.WaitGroup
		next       atomic.Int64
	)
	start := time.Now()
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(*total) {
				id, err := create(client, url, token, body)
				mu.Lock()
				if err != nil {
					errorsSeen.Add(1)
					if firstErr == "" {
						firstErr = err.Error()
					}
				} else {
					ids[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	// Counting reads whole collections from the emulator: env.AWS has no
	// per-attempt timeout, which the service's client has, tuned for single items.
	secrets, err := countSecrets(ctx, secretsmanager.NewFromConfig(env.AWS), prefix)
	if err != nil {
		return err
	}
	records, err := countRecords(ctx, dynamodb.NewFromConfig(env.AWS), table)
	if err != nil {
		return err
	}
	fmt.Printf("creates %d in %s (%.0f/s)\nerrors %d\nunique ids %d\nsecrets %d\nrecords %d\n",
		*total, elapsed.Round(time.Millisecond), float64(*total)/elapsed.Seconds(), errorsSeen.Load(), len(ids), secrets, records)
	if firstErr != "" {
		fmt.Println("first error:", firstErr)
	}
	if errorsSeen.Load() != 0 || len(ids) != *total || secrets != *total || records != *total {
		return fmt.Errorf("the counts disagree")
	}
	fmt.Println("all four agree")
	return nil
}

func create(client *http.Client, url, token, body string) (int64, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Token "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, raw)
	}
	var storage struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(raw, &storage); err != nil {
		return 0, err
	}
	return storage.ID, nil
}

func countSecrets(ctx context.Context, sm *secretsmanager.Client, prefix string) (int, error) {
	n := 0
	p := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{
		Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{prefix}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, s := range page.SecretList {
			if strings.HasPrefix(aws.ToString(s.Name), prefix) {
				n++
			}
		}
	}
	return n, nil
}

func countRecords(ctx context.Context, db *dynamodb.Client, table string) (int, error) {
	n := 0
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, item := range page.Items {
			if kind, ok := item["kind"].(*dbtypes.AttributeValueMemberS); ok && kind.Value == "storage" {
				n++
			}
		}
	}
	return n, nil
}
