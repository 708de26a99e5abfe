// Package databricks checks that a Databricks workspace accepts a storage's
// credentials and that its Unity Catalog volume (and prefix) is a directory,
// and lists the files under it for the files preview. Checker implements
// core.ConnectionChecker and core.FileLister with the Files API of the
// Databricks Go SDK, and core.VolumePager, a sync's listing in steps
// (ListPage).
//
// Only the SDK's client, config and service/files packages (and the
// httpclient, apierr and config/credentials packages they are built on) are
// used, never the all-services WorkspaceClient. The SDK's configuration
// loading (environment variables, ~/.databrickscfg), host metadata discovery
// and retries are switched off: every check makes exactly the requests
// described on CheckConnection, within Connection.Timeout, and a listing
// the ones described on ListFiles. The SDK's rate limit, 100 requests a
// second after a burst of 100, concerns long listings only.
package databricks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/httpclient"
	"github.com/databricks/databricks-sdk-go/service/files"

	"github.com/lsdbx/databricks-storage/internal/hostguard"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// DefaultAzureAuthority is the Microsoft Entra ID (Azure AD) authority of the
// public cloud.
const DefaultAzureAuthority = "https://login.microsoftonline.com"

// Token scopes requested by the service-principal modes.
const (
	// DatabricksScope is the scope of Databricks OAuth M2M tokens.
	DatabricksScope = "all-apis"
	// AzureDatabricksScope is the Azure Databricks resource (its
	// application id) with the .default scope.
	AzureDatabricksScope = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
)

// Reasons a *storage.ConnectionError carries.
const (
	ReasonCredentialsRefused    = "credentials_refused"
	ReasonVolumeNotFound        = "volume_not_found"
	ReasonPrefixNotFound        = "prefix_not_found"
	ReasonNotADirectory         = "not_a_directory"
	ReasonWorkspaceUnreachable  = "workspace_unreachable"
	ReasonHostNotAllowed        = "host_not_allowed"
	ReasonTLSVerificationFailed = "tls_verification_failed"
	ReasonTimedOut              = storage.ReasonTimedOut
	ReasonWorkspaceError        = storage.ReasonWorkspaceError
	// ReasonRedirected: the workspace or a token endpoint answered with a
	// redirect, which is never followed. Permanent, like every reason but
	// timed_out and workspace_error.
	ReasonRedirected = "redirected"
)

// Options configure a Checker.
type Options struct {
	// Guard is applied to every connection, to the workspace and to the
	// Azure authority alike, after DNS resolution.
	Guard hostguard.Policy
	// AzureAuthority is the base URL of the Azure AD token endpoints,
	// {AzureAuthority}/{tenant}/oauth2/v2.0/token; DefaultAzureAuthority
	// when empty.
	AzureAuthority string
	// RootCAs verifies TLS certificates; nil means the system pool. It
	// applies to the workspace when verify_tls is true and always to the
	// Azure authority.
	RootCAs *x509.CertPool
	// WrapTransport, when set, wraps the transport of the Files API
	// requests (a test injects faults with it); nil sends them as they are.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Checker checks connections to Databricks workspaces. It keeps two HTTP
// transports, one verifying TLS certificates and one not (for verify_tls
// false), whose connections are reused across checks. It is safe for
// concurrent use.
//
// No redirect is followed, neither by the workspace nor by a token
// endpoint: a check must be answered by the host it was sent to, or a
// second host that never saw the credentials could pass it.
type Checker struct {
	authority string
	verified  *guardedTransport
	insecure  *guardedTransport
	// verifiedClient is the token client of the Azure authority and of
	// workspaces with verify_tls true; insecureClient of the others.
	verifiedClient *http.Client
	insecureClient *http.Client
	wrap           func(http.RoundTripper) http.RoundTripper
}

// New returns a Checker. It does no I/O.
func New(opts Options) *Checker {
	authority := strings.TrimRight(opts.AzureAuthority, "/")
	if authority == "" {
		authority = DefaultAzureAuthority
	}
	verified := newTransport(opts.Guard, &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12})
	// #nosec G402 -- used only for workspaces whose storage says verify_tls false.
	insecure := newTransport(opts.Guard, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	return &Checker{
		authority:      authority,
		verified:       verified,
		insecure:       insecure,
		verifiedClient: &http.Client{Transport: verified, CheckRedirect: noRedirects},
		insecureClient: &http.Client{Transport: insecure, CheckRedirect: noRedirects},
		wrap:           opts.WrapTransport,
	}
}

// noRedirects makes an http.Client return a redirect answer as it is.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// CloseIdleConnections closes the idle connections of both transports.
func (c *Checker) CloseIdleConnections() {
	c.verified.t.CloseIdleConnections()
	c.insecure.t.CloseIdleConnections()
}

// errTimedOut is the cause of the context of a check or listing whose
// Connection.Timeout elapsed.
var errTimedOut = errors.New("request_timeout_s elapsed")

// CheckConnection confirms that conn's workspace accepts its credentials and
// that /Volumes/<catalog>/<schema>/<volume>[/<prefix>] is a directory, all
// within conn.Timeout (storage.DefaultRequestTimeoutS seconds when zero).
//
// The requests: for auth type dbx_sp first a token request to
// {host}/oidc/v1/token, for azure_ad_sp to the Azure authority; then one
// HEAD of the directory's metadata in the Files API. Only when that answers
// 404 does it ask more, to tell the cause apart: for a prefix, the volume's
// directory metadata and then the prefix's file metadata.
//
// Problems the caller can fix come back as *storage.ConnectionError with
// one of the Reason constants. Neither its Message nor its Err holds text
// the workspace or a token endpoint sent, beyond a status, a plain error
// code and a redirect's host (see ResponseError), so neither can carry a
// token or client secret that a server echoes. A cancelled ctx or an
// invalid conn (which the request decoder rules out) gives a plain error.
func (c *Checker) CheckConnection(ctx context.Context, conn storage.Connection) error {
	ck, api, cancel, err := c.begin(ctx, conn, "connection check")
	if err != nil {
		return err
	}
	defer cancel()

	err = api.GetDirectoryMetadataByDirectoryPath(ck.ctx, ck.target)
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return ck.fail(err)
	}
	return ck.notFound(api, err)
}

// begin validates conn and sets up one check or listing, op: its state,
// whose context carries the deadline of conn.Timeout (cancel releases it),
// and its Files API client. Its error is plain for an invalid conn, a
// *storage.ConnectionError for a tenant_id that is no tenant.
func (c *Checker) begin(ctx context.Context, conn storage.Connection, op string) (*check, *files.FilesAPI, context.CancelFunc, error) {
	base, err := workspaceURL(conn.Host)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("databricks: %w", err)
	}
	volume, target, err := volumePaths(conn)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("databricks: %w", err)
	}
	timeout := conn.Timeout
	if timeout <= 0 {
		timeout = storage.DefaultRequestTimeoutS * time.Second
	}
	dbc, err := c.workspaceClient(conn, base, timeout)
	if errors.Is(err, errInvalidTenant) {
		return nil, nil, nil, &storage.ConnectionError{
			Reason:  ReasonCredentialsRefused,
			Message: fmt.Sprintf("The tenant_id %q is not a valid Azure AD tenant: use the tenant's GUID or its domain name.", truncate(conn.TenantID, 80)),
			Err:     err,
		}
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("databricks: set up client: %w", err)
	}
	budget, cancel := context.WithTimeoutCause(ctx, timeout, errTimedOut)
	return &check{
		op:      op,
		conn:    conn,
		host:    base.Host,
		volume:  volume,
		target:  target,
		timeout: timeout,
		parent:  ctx,
		ctx:     budget,
		client:  dbc,
	}, files.NewFiles(dbc), cancel, nil
}

// notFound tells apart why the Files API answered 404 (err) for the
// directory ck.target: a missing volume, a missing prefix, or a prefix that
// names a file. It asks for the volume's directory metadata and then for
// the prefix's file metadata.
func (ck *check) notFound(api *files.FilesAPI, err error) error {
	if ck.target == ck.volume {
		return ck.volumeNotFound(err)
	}
	if err := api.GetDirectoryMetadataByDirectoryPath(ck.ctx, ck.volume); err != nil {
		if isNotFound(err) {
			return ck.volumeNotFound(err)
		}
		return ck.fail(err)
	}
	_, err = api.GetMetadataByFilePath(ck.ctx, ck.target)
	switch {
	case err == nil:
		return &storage.ConnectionError{
			Reason:  ReasonNotADirectory,
			Message: fmt.Sprintf("The prefix %q names a file, not a directory: %s in workspace %s is a file.", strings.Trim(ck.conn.Prefix, "/"), ck.target, ck.host),
			Err:     fmt.Errorf("HEAD %s: %w", ck.target, errIsFile),
		}
	case isNotFound(err):
		return &storage.ConnectionError{
			Reason:  ReasonPrefixNotFound,
			Message: fmt.Sprintf("The prefix %q was not found: volume %s in workspace %s has no directory %s.", strings.Trim(ck.conn.Prefix, "/"), ck.volume, ck.host, ck.target),
			Err:     ck.apiResponse(err),
		}
	default:
		return ck.fail(err)
	}
}

var errIsFile = errors.New("the path is a file")

// workspaceClient builds the SDK client of one check. It is cheap: the
// transports are shared, and the configuration does no I/O.
func (c *Checker) workspaceClient(conn storage.Connection, base *url.URL, timeout time.Duration) (*client.DatabricksClient, error) {
	guarded, tokenClient := c.verified, c.verifiedClient
	if !conn.VerifyTLS {
		guarded, tokenClient = c.insecure, c.insecureClient
	}
	var next http.RoundTripper = guarded
	if c.wrap != nil {
		next = c.wrap(guarded)
	}
	transport := refuseRedirects{next}
	creds, err := c.credentials(conn, base, tokenClient)
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{
		Host:        base.String(),
		Credentials: creds,
		// No environment variables or ~/.databrickscfg: the storage's own
		// settings are the whole configuration.
		Loaders: []config.Loader{noLoader{}},
		// No fetch of /.well-known/databricks-config.
		HostMetadataResolver: func(context.Context, string) (*config.HostMetadata, error) { return nil, nil },
		HTTPTransport:        transport,
	}
	hostport := base.Host
	api := httpclient.NewApiClient(httpclient.ClientConfig{
		Host:        cfg.Host,
		AuthVisitor: cfg.Authenticate,
		Visitors: []httpclient.RequestVisitor{func(r *http.Request) error {
			r.URL.Scheme = "https"
			r.URL.Host = hostport
			return nil
		}},
		// One attempt: the retry loop gives up at its first wait.
		RetryTimeout:       time.Nanosecond,
		HTTPTimeout:        2 * timeout, // the check's own deadline comes first
		RateLimitPerSecond: 100,
		ErrorMapper:        apierr.GetAPIError,
		ErrorRetriable:     func(context.Context, error) bool { return false },
		Transport:          transport,
	})
	return client.NewWithClient(cfg, api)
}

// noLoader is a config.Loader that loads nothing.
type noLoader struct{}

func (noLoader) Name() string                   { return "none" }
func (noLoader) Configure(*config.Config) error { return nil }

// workspaceURL parses a normalised host, https://<hostname>[:port].
func workspaceURL(host string) (*url.URL, error) {
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("invalid workspace URL %q", host)
	}
	return &url.URL{Scheme: "https", Host: u.Host}, nil
}

// volumePaths returns the volume's path and the path to check, the volume
// or its prefix directory. The SDK escapes each segment.
func volumePaths(conn storage.Connection) (volume, target string, err error) {
	for _, name := range []string{conn.Catalog, conn.Schema, conn.Volume} {
		if !validSegment(name) {
			return "", "", fmt.Errorf("invalid volume name segment %q", name)
		}
	}
	volume = "/Volumes/" + conn.Catalog + "/" + conn.Schema + "/" + conn.Volume
	prefix := strings.Trim(conn.Prefix, "/")
	if prefix == "" {
		return volume, volume, nil
	}
	for _, seg := range strings.Split(prefix, "/") {
		if !validSegment(seg) {
			return "", "", fmt.Errorf("invalid prefix segment %q", seg)
		}
	}
	return volume, volume + "/" + prefix, nil
}

func validSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\")
}

func isNotFound(err error) bool {
	var apiErr *apierr.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound
}

// guardedTransport is the shared transport of a Checker: every connection
// passes the host guard, no proxy is used, and only https requests are sent
// (so no redirect can carry a token over plain HTTP).
type guardedTransport struct {
	t *http.Transport
}

func newTransport(guard hostguard.Policy, tlsConfig *tls.Config) *guardedTransport {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &guardedTransport{t: &http.Transport{
		Proxy:                 nil,
		DialContext:           guard.DialContext(dialer),
		TLSClientConfig:       tlsConfig,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// errNotHTTPS is returned for a request that is not https, e.g. to an Azure
// authority configured as http://.
var errNotHTTPS = errors.New("only https:// is allowed")

// RoundTrip implements http.RoundTripper.
func (g *guardedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("%s %s://%s: %w", r.Method, r.URL.Scheme, r.URL.Host, errNotHTTPS)
	}
	return g.t.RoundTrip(r)
}

// CloseIdleConnections closes the transport's idle connections.
func (g *guardedTransport) CloseIdleConnections() { g.t.CloseIdleConnections() }

// refuseRedirects is the transport of the SDK's client, an http.Client the
// SDK builds without a CheckRedirect, which would follow a redirect and, as
// the SDK takes 3xx for success, pass a check on a redirect it does not
// follow. So a redirect answer ends the request here, as a *ResponseError
// the client cannot follow.
type refuseRedirects struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t refuseRedirects) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp.StatusCode < 300 || resp.StatusCode > 399 {
		return resp, err
	}
	_ = resp.Body.Close()
	return nil, &ResponseError{
		Request:    r.Method + " " + withoutQuery(r.URL),
		StatusCode: resp.StatusCode,
		Location:   redirectHost(r.URL, resp.Header.Get("Location")),
	}
}
