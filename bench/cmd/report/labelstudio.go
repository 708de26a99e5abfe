package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/core"
	devls "github.com/lsdbx/databricks-storage/internal/dev/labelstudio"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

// labelStudio is the real Label Studio OSS sections 2, 6 and 8 use, started
// on first need (package dev/labelstudio, as make test and make run start
// it; LABEL_STUDIO_VENV names another install) with one project; run
// stops it. Its output goes to
// build/local/label-studio-bench.log.
func (l *lab) labelStudio() (*devls.Server, int64, error) {
	if l.lsTried {
		return l.ls, l.lsProject, l.lsErr
	}
	l.lsTried = true
	logPath := filepath.Join(l.root, "build", "local", "label-studio-bench.log")
	_ = os.MkdirAll(filepath.Dir(logPath), 0o755)
	logw := io.Discard
	if f, err := os.Create(logPath); err == nil {
		defer f.Close()
		logw = f
	}
	logf("starting Label Studio %s (output: %s)", devls.Version, logPath)
	// Its S3 storages reach moto's S3 through the operator's S3_ENDPOINT
	// (section 8): Label Studio refuses a storage's own loopback
	// s3_endpoint.
	var env []string
	if l.startS3Proxy(); l.s3 != nil {
		env = append(env, "S3_ENDPOINT="+l.s3.URL())
	}
	l.ls, l.lsErr = devls.Start(l.ctx, devls.Options{Venv: cmp.Or(os.Getenv("LABEL_STUDIO_VENV"), devls.DefaultVenv), Log: logw, Progress: os.Stderr, Env: env})
	if l.lsErr != nil {
		l.lsErr = fmt.Errorf("label Studio could not be started: %w", l.lsErr)
		return nil, 0, l.lsErr
	}
	if l.lsProject, l.lsErr = l.ls.Admin().CreateProject(l.ctx, "bench"); l.lsErr != nil {
		l.lsErr = fmt.Errorf("create a Label Studio project: %w", l.lsErr)
	}
	return l.ls, l.lsProject, l.lsErr
}

// measureLabelStudio times what Label Studio mode adds to a request: a cold
// verification (the Authenticator with its caches off: whoami, then the
// project read with the caller's token), a warm one (both answers cached),
// beside one plain round trip to the same Label Studio (GET
// /api/projects/<id>/ with the same token). The three take turns, so that
// the machine's load falls on all alike.
func measureLabelStudio(l *lab) (*section, error) {
	s := &section{}
	ls, project, err := l.labelStudio()
	if err != nil {
		return s, err
	}
	header := "Token " + ls.Token
	// One HTTP client for all three, keeping its connections as a warm
	// Lambda keeps the Authenticator's.
	hc := &http.Client{Timeout: labelstudio.DefaultTimeout}
	client := &labelstudio.Client{BaseURL: ls.URL, HTTP: hc, Service: labelstudio.StaticCredential(header)}
	cold := &labelstudio.Authenticator{Client: client, CacheTTL: 0}
	warm := labelstudio.NewAuthenticator(client)
	verify := func(ctx context.Context, a *labelstudio.Authenticator) error {
		p, err := a.Authenticate(ctx, header)
		if err != nil {
			return err
		}
		return a.Authorize(ctx, core.TokenHolder(p), project)
	}
	plain := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ls.URL+"/api/projects/"+strconv.FormatInt(project, 10)+"/", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", header)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /api/projects/%d/: %d", project, resp.StatusCode)
		}
		return nil
	}
	kinds := []struct {
		name string
		run  func(context.Context) error
	}{
		{"one plain round trip (GET /api/projects/<id>/)", plain},
		{"cold verification (whoami + project, cache off)", func(ctx context.Context) error { return verify(ctx, cold) }},
		{"warm verification (both answers cached)", func(ctx context.Context) error { return verify(ctx, warm) }},
	}
	samples := make([][]float64, len(kinds))
	// One discarded round opens the connection and fills the warm cache.
	for i := -1; i < l.opts.lsSamples; i++ {
		for j := range kinds {
			k := (i + j + len(kinds)) % len(kinds)
			began := time.Now()
			if err := kinds[k].run(l.ctx); err != nil {
				return s, fmt.Errorf("%s: %w", kinds[k].name, err)
			}
			if i >= 0 {
				samples[k] = append(samples[k], msOf(time.Since(began)))
			}
		}
	}
	sum := make([]benchkit.Summary, len(kinds))
	for k := range kinds {
		sum[k] = benchkit.Summarize(samples[k])
	}
	s.printf("Label Studio OSS %s started for this run (package `internal/dev/labelstudio`, SQLite, on this machine), its admin's legacy token as the caller and one project. `internal/labelstudio`'s Authenticator over one HTTP client that keeps its connections (as a warm Lambda does): *cold* is `CacheTTL` 0, so every sample asks Label Studio who the token is and whether it may see the project, as the first request of a token on an instance does; *warm* is the default TTL with both answers cached. The reference is one plain request to the same Label Studio with the same token. The three take turns after one discarded round; %d samples each.\n\n", devls.Version, l.opts.lsSamples)
	s.printf("| | n | median | p95 | min | max | ÷ plain round trip (median) |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for k, kd := range kinds {
		x := sum[k]
		s.printf("| %s | %d | %s | %s | %s | %s | %.3f× |\n", kd.name, x.N, fineMS(x.Median), fineMS(x.P95), fineMS(x.Min), fineMS(x.Max), x.Median/sum[0].Median)
	}
	s.printf("\nA cold verification is two Label Studio round trips in sequence (whoami, then the project), so about twice the plain one is the expected cost; a warm one makes none. How long an answer is trusted is `TOKEN_CACHE_SECONDS` (README, *Label Studio mode*).\n")
	s.info("Label Studio mode: cold verification (whoami + project), median / p95", fmt.Sprintf("%s / %s (%.2f× one plain round trip, %s / %s)", ms(sum[1].Median), ms(sum[1].P95), sum[1].Median/sum[0].Median, ms(sum[0].Median), ms(sum[0].P95)))
	s.info("Label Studio mode: warm (cached) verification, median / p95", fmt.Sprintf("%s / %s", fineMS(sum[2].Median), fineMS(sum[2].P95)))
	return s, nil
}

// fineMS is a duration in milliseconds that keeps a cached answer's
// microseconds.
func fineMS(x float64) string {
	if x < 1 {
		return fmt.Sprintf("%.3f ms", x)
	}
	return ms(x)
}
