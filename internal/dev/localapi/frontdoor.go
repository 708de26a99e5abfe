package localapi

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/lsdbx/databricks-storage/internal/apierror"
	"github.com/lsdbx/databricks-storage/internal/filecap"
)

// ServicePaths are the path prefixes the front door sends to this service;
// everything else goes to Label Studio. The CloudFront distribution of
// template.yaml (FrontDoor) has a cache behaviour for each.
var ServicePaths = []string{"/api/storages/databricks", "/api/storages/export/databricks", filecap.RoutePrefix}

// IsServicePath reports whether the front door sends path to this service.
func IsServicePath(path string) bool {
	for _, p := range ServicePaths {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// FrontDoor is one host for a Label Studio and this service, as the
// CloudFront distribution is in AWS: the service's paths go to service,
// everything else is reverse-proxied to Label Studio at labelStudio. The
// Host header is kept, so that Label Studio's CSRF check (its Origin
// against Host) passes for a browser on the front door's address.
func FrontDoor(service http.Handler, labelStudio *url.URL) http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(labelStudio)
			r.Out.Host = r.In.Host
			r.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			body := apierror.New(http.StatusBadGateway, "local", fmt.Sprintf("Label Studio at %s did not answer: %v", labelStudio.Redacted(), err), nil).JSON()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write(body)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsServicePath(r.URL.Path) {
			service.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})
}
