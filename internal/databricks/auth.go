package databricks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/config/credentials"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// credentials returns the credentials strategy of conn's auth type.
//
// The service principals use this package's own client-credentials flow,
// not the SDK's strategies, because those cost extra requests: the SDK's
// oauth-m2m first fetches {host}/oidc/.well-known/oauth-authorization-server
// to find the token endpoint, and its azure-client-secret asks Azure AD for
// two tokens (Databricks and Azure management) against the hard-wired
// authority of the host's cloud, which tests cannot redirect. Going straight
// to the well-known token endpoints makes a check cost one token request
// plus one Files API request. The tokens are used for this check only and
// never cached across checks, since every check carries its own secrets.
func (c *Checker) credentials(conn storage.Connection, base *url.URL, workspaceClient *http.Client) (config.CredentialsStrategy, error) {
	switch conn.AuthType {
	case storage.AuthPAT:
		token := conn.Secrets.Token
		if token == "" {
			return nil, errors.New("auth type pat needs a token")
		}
		return &strategy{name: "pat", fetch: func(context.Context) (string, error) { return token, nil }}, nil
	case storage.AuthDatabricksSP:
		if conn.ClientID == "" || conn.Secrets.ClientSecret == "" {
			return nil, errors.New("auth type dbx_sp needs client_id and client_secret")
		}
		cc := &clientcredentials.Config{
			ClientID:     conn.ClientID,
			ClientSecret: conn.Secrets.ClientSecret,
			TokenURL:     base.String() + "/oidc/v1/token",
			Scopes:       []string{DatabricksScope},
			// As the SDK's oauth-m2m does. An explicit style also avoids
			// oauth2's auto-detection, which retries a refusal once with
			// the other style.
			AuthStyle: oauth2.AuthStyleInHeader,
		}
		return &strategy{name: "oauth-m2m", fetch: clientCredentials(cc, workspaceClient, false)}, nil
	case storage.AuthAzureADSP:
		if conn.ClientID == "" || conn.Secrets.ClientSecret == "" || conn.TenantID == "" {
			return nil, errors.New("auth type azure_ad_sp needs tenant_id, client_id and client_secret")
		}
		if !validTenant(conn.TenantID) {
			return nil, errInvalidTenant
		}
		cc := &clientcredentials.Config{
			ClientID:     conn.ClientID,
			ClientSecret: conn.Secrets.ClientSecret,
			TokenURL:     c.authority + "/" + conn.TenantID + "/oauth2/v2.0/token",
			Scopes:       []string{AzureDatabricksScope},
			// Microsoft's documented client_secret_post.
			AuthStyle: oauth2.AuthStyleInParams,
		}
		// The authority is always verified: verify_tls is about the
		// workspace only.
		return &strategy{name: "azure-client-secret", fetch: clientCredentials(cc, c.verifiedClient, true)}, nil
	default:
		return nil, fmt.Errorf("unknown auth type %q", conn.AuthType)
	}
}

// errInvalidTenant is returned for a tenant_id that is neither a GUID nor a
// domain name.
var errInvalidTenant = errors.New("invalid tenant id")

// validTenant accepts tenant GUIDs and domain names (contoso.onmicrosoft.com),
// which keeps the tenant a single, harmless path segment.
func validTenant(t string) bool {
	if t == "" || len(t) > 253 || t[0] == '.' || strings.Contains(t, "..") {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '.' && c != '_' {
			return false
		}
	}
	return true
}

// strategy is a config.CredentialsStrategy that sets a bearer token, fetched
// once per check on first use with the request's context, so the token
// request counts against the check's deadline.
type strategy struct {
	name  string
	fetch func(ctx context.Context) (string, error)

	mu    sync.Mutex
	token string
}

// Name implements config.CredentialsStrategy.
func (s *strategy) Name() string { return s.name }

// Configure implements config.CredentialsStrategy. It does no I/O.
func (s *strategy) Configure(context.Context, *config.Config) (credentials.CredentialsProvider, error) {
	return credentials.CredentialsProviderFn(s.setHeaders), nil
}

func (s *strategy) setHeaders(r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == "" {
		token, err := s.fetch(r.Context())
		if err != nil {
			return err
		}
		s.token = token
	}
	r.Header.Set("Authorization", "Bearer "+s.token)
	return nil
}

// clientCredentials returns a fetch function for the OAuth client-credentials
// grant through hc, which must not follow redirects; azure tells whether the
// endpoint is the Azure authority. Its errors never hold the request, which
// carries the client secret (in a Basic header or a form body), nor the
// answer's text: an answer becomes a *ResponseError of status and
// syntax-checked code and redirect host, which the check vets further, and a
// failure to get an answer a *tokenRequestError.
func clientCredentials(cc *clientcredentials.Config, hc *http.Client, azure bool) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
		if err == nil {
			return tok.AccessToken, nil
		}
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response == nil {
			return "", &tokenRequestError{url: cc.TokenURL, azure: azure, err: err}
		}
		e := &ResponseError{
			Request:    "POST " + cc.TokenURL,
			StatusCode: re.Response.StatusCode,
			Code:       plainCode(re.ErrorCode),
			token:      true,
			azure:      azure,
		}
		if azure {
			e.AzureCode = azureCode(re.Body)
		}
		if e.redirect() {
			if base, perr := url.Parse(cc.TokenURL); perr == nil {
				e.Location = redirectHost(base, re.Response.Header.Get("Location"))
			}
		}
		return "", e
	}
}

// tokenRequestError is a token request that got no usable answer. Its err
// can quote the server (a malformed status line), so the check reports it in
// its own words.
type tokenRequestError struct {
	url   string
	azure bool
	err   error
}

func (e *tokenRequestError) Error() string { return "token request to " + e.url + ": " + e.err.Error() }

func (e *tokenRequestError) Unwrap() error { return e.err }
