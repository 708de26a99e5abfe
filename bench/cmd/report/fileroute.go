package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/lsdbx/databricks-storage/bench/benchkit"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/databricks"
	"github.com/lsdbx/databricks-storage/internal/dev/fakeworkspace"
	"github.com/lsdbx/databricks-storage/internal/filecap"
	"github.com/lsdbx/databricks-storage/internal/fileproxy"
	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// fileRouteBytes is the file section's file: large enough that throughput,
// not set-up, decides.
const fileRouteBytes = 100 << 20

// fileRouteRounds is how many times each download is timed.
const fileRouteRounds = 7

// oneStorage is the file route's read ports over one storage and its
// secret, in memory: the section times the route, not DynamoDB or Secrets
// Manager (whose costs sections 3 and 4 measure).
type oneStorage struct {
	rec    storage.Record
	values map[string]string
}

func (o oneStorage) GetStorage(_ context.Context, id int64) (storage.Record, error) {
	if id != o.rec.ID {
		return storage.Record{}, storage.ErrRecordNotFound
	}
	return o.rec, nil
}

func (o oneStorage) ReadSecret(context.Context, string, string) (map[string]string, string, error) {
	return o.values, o.rec.SecretVersionID, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// measureFileRoute downloads the same 100 MB file, warm, straight from the
// fake workspace's Files API and through the file route (the real handler
// over loopback HTTP, reading from that workspace), in turns, and compares
// time to first byte and throughput.
func measureFileRoute(l *lab) (*section, error) {
	s := &section{}
	ws := fakeworkspace.New()
	ws.AddPAT(fakeworkspace.DefaultPAT)
	ws.AddGeneratedFile(fakeworkspace.DefaultVolumePath+"/bench/big.bin", fileRouteBytes, 3, "application/octet-stream")
	if err := ws.Start(); err != nil {
		return s, err
	}
	defer ws.Close()
	key, err := filecap.NewKey()
	if err != nil {
		return s, err
	}
	prefix := "bench"
	store := oneStorage{
		rec: storage.Record{Storage: storage.Storage{ID: 1, Type: "databricks", Settings: storage.Settings{
			Project: 1, Host: ws.URL(), Catalog: "main", Schema: "default", Volume: "landing", Prefix: &prefix,
			AuthType: storage.AuthPAT, VerifyTLS: true, RequestTimeoutS: 30,
		}}, SecretARN: "arn:bench", SecretVersionID: "v1"},
		values: map[string]string{"token": fakeworkspace.DefaultPAT, filecap.SecretValue: key},
	}
	fetcher := databricks.New(databricks.Options{Guard: hostguard.Policy{AllowPrivate: true}, RootCAs: ws.CertPool()})
	defer fetcher.CloseIdleConnections()
	route := httptest.NewServer(&fileproxy.Handler{
		Files:   &core.Files{Records: store, Secrets: store, Fetcher: fetcher, Logger: discardLogger()},
		Version: "bench", Logger: discardLogger(),
	})
	defer route.Close()
	capability, err := filecap.Sign(key, 1, "bench/big.bin")
	if err != nil {
		return s, err
	}
	viaRoute := route.URL + filecap.URLPath(1, capability, "bench/big.bin")
	direct := ws.URL() + "/api/2.0/fs/files" + fakeworkspace.DefaultVolumePath + "/bench/big.bin"

	// One client per path, each keeping its connection (warm): the
	// direct one speaks to the workspace as the route's fetcher does.
	directClient := ws.Client()
	routeClient := route.Client()
	download := func(client *http.Client, u string, auth bool) (ttfb, total time.Duration, n int64, err error) {
		req, _ := http.NewRequestWithContext(l.ctx, http.MethodGet, u, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+fakeworkspace.DefaultPAT)
		}
		began := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, 0, err
		}
		defer resp.Body.Close()
		var one [1]byte
		if _, err := io.ReadFull(resp.Body, one[:]); err != nil {
			return 0, 0, 0, err
		}
		ttfb = time.Since(began)
		rest, err := io.Copy(io.Discard, resp.Body)
		total = time.Since(began)
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return ttfb, total, rest + 1, err
	}
	var dT, dM, rT, rM []float64 // TTFB ms and MB/s, direct and route
	for round := range fileRouteRounds + 1 {
		for _, side := range []struct {
			client     *http.Client
			u          string
			auth       bool
			ttfb, rate *[]float64
		}{{directClient, direct, true, &dT, &dM}, {routeClient, viaRoute, false, &rT, &rM}} {
			ttfb, total, n, err := download(side.client, side.u, side.auth)
			if err != nil {
				return s, fmt.Errorf("download %d: %w", round, err)
			}
			if n != fileRouteBytes {
				return s, fmt.Errorf("download %d: %d bytes, want %d", round, n, fileRouteBytes)
			}
			if round == 0 {
				continue // warm-up: connections, TLS, buffers
			}
			*side.ttfb = append(*side.ttfb, float64(ttfb.Microseconds())/1000)
			*side.rate = append(*side.rate, float64(n)/(1<<20)/total.Seconds())
		}
	}
	sd, sr := benchkit.Summarize(dT), benchkit.Summarize(rT)
	md, mr := benchkit.Summarize(dM), benchkit.Summarize(rM)
	s.printf("The same %d MB file downloaded %d times each, warm (after one unmeasured download each), in turns: straight from the fake workspace's Files API (`GET /api/2.0/fs/files/Volumes/…`, HTTPS with HTTP/2, a PAT) and through the file route (`fileproxy.Handler` over loopback HTTP, reading it from that workspace with the storage's credentials; records and secret in memory). Both on this machine, so the route's extra hop costs what it costs here: its time to first byte includes the workspace's.\n\n", fileRouteBytes>>20, fileRouteRounds)
	s.printf("| | time to first byte, median (min–max) | throughput, median (min–max) |\n|---|---|---|\n")
	s.printf("| straight from the workspace | %.2f ms (%.2f–%.2f) | %.0f MB/s (%.0f–%.0f) |\n", sd.Median, sd.Min, sd.Max, md.Median, md.Min, md.Max)
	s.printf("| through the file route | %.2f ms (%.2f–%.2f) | %.0f MB/s (%.0f–%.0f) |\n", sr.Median, sr.Min, sr.Max, mr.Median, mr.Min, mr.Max)
	s.printf("| route − direct, route / direct | %+.2f ms | %.0f %% |\n\n", sr.Median-sd.Median, 100*mr.Median/md.Median)
	s.printf("Memory while serving 100 MB is measured by `TestServing100MBKeepsMemoryFlat` (internal/fileproxy): the RSS rises by less than 16 MB.\n")
	s.target("file route: time to first byte over direct (warm, 100 MB file)", fmt.Sprintf("%+.2f ms (%.2f vs %.2f ms)", sr.Median-sd.Median, sr.Median, sd.Median), "≤ +5 ms", sr.Median-sd.Median <= 5)
	s.target("file route: throughput / direct (100 MB file)", fmt.Sprintf("%.0f %% (%.0f vs %.0f MB/s)", 100*mr.Median/md.Median, mr.Median, md.Median), "≥ 90 %", mr.Median >= 0.9*md.Median)
	return s, nil
}
