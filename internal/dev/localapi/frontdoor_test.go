package localapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/dev/localapi"
)

// The front door sends the storage API's paths to the service and the rest
// to Label Studio, with the caller's Authorization and Host.
func TestFrontDoorRoutes(t *testing.T) {
	ls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ls "+r.URL.RequestURI()+" "+r.Header.Get("Authorization")+" "+r.Host)
	}))
	defer ls.Close()
	service := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "service "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
	})
	lsURL, _ := url.Parse(ls.URL)
	door := httptest.NewServer(localapi.FrontDoor(service, lsURL))
	defer door.Close()
	host := door.Listener.Addr().String()
	for path, want := range map[string]string{
		"/api/storages/databricks/?project=1":        "service /api/storages/databricks/?project=1 Token t",
		"/api/storages/databricks/7":                 "service /api/storages/databricks/7 Token t",
		"/api/storages/databricks-openapi.yaml":      "service /api/storages/databricks-openapi.yaml Token t",
		"/api/storages/export/databricks/?project=1": "service /api/storages/export/databricks/?project=1 Token t",
		"/api/storages/export/databricks/7/sync":     "service /api/storages/export/databricks/7/sync Token t",
		"/api/storages/export/s3?project=1":          "ls /api/storages/export/s3?project=1 Token t " + host,
		"/api/projects/1":                            "ls /api/projects/1 Token t " + host,
		"/api/storages/s3?project=1":                 "ls /api/storages/s3?project=1 Token t " + host,
		"/user/login/":                               "ls /user/login/ Token t " + host,
	} {
		req, _ := http.NewRequest(http.MethodGet, door.URL+path, nil)
		req.Header.Set("Authorization", "Token t")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("%s → %q, want %q", path, body, want)
		}
	}
	ls.Close()
	resp, err := http.Get(door.URL + "/api/projects/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("Label Studio down: %d, want 502", resp.StatusCode)
	}
}
