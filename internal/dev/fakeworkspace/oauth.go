package fakeworkspace

// The OAuth token endpoints: Databricks OAuth M2M (POST /oidc/v1/token, client
// credentials, and its discovery document) and an Azure AD (Microsoft Entra
// ID) token endpoint, POST /{tenant}/oauth2/v2.0/token, so tests can point
// the Azure authority at the same server.

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// AzureDatabricksScope is the scope an Azure AD token request must ask for:
// the Azure Databricks resource's application id.
const AzureDatabricksScope = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"

type principal struct {
	secret, token string
}

// AddServicePrincipal registers a Databricks service principal for OAuth
// M2M and returns the access token /oidc/v1/token issues for it.
func (s *Server) AddServicePrincipal(clientID, secret string) (accessToken string) {
	accessToken = "fake-dbx-oauth-" + clientID
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sps[clientID] = principal{secret: secret, token: accessToken}
	s.tokens[accessToken] = true
	return accessToken
}

// AddAzureApp registers an Azure AD application in tenant and returns the
// access token the Azure token endpoint issues for it.
func (s *Server) AddAzureApp(tenant, clientID, secret string) (accessToken string) {
	accessToken = "fake-aad-" + tenant + "-" + clientID
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.azure[tenant] == nil {
		s.azure[tenant] = map[string]principal{}
	}
	s.azure[tenant][clientID] = principal{secret: secret, token: accessToken}
	s.tokens[accessToken] = true
	return accessToken
}

// discovery answers GET and HEAD of the OAuth discovery document.
func discovery(w http.ResponseWriter, r *http.Request) {
	base := "https://" + r.Host
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                 base + "/oidc",
		"authorization_endpoint": base + "/oidc/v1/authorize",
		"token_endpoint":         base + "/oidc/v1/token",
		"grant_types_supported":  []string{"client_credentials", "authorization_code", "refresh_token"},
		"scopes_supported":       []string{"all-apis", "offline_access"},
	})
}

// clientCredentials returns the client id and secret of a token request,

// from HTTP Basic (URL-encoded, RFC 6749 §2.3.1) or from the form.
func clientCredentials(r *http.Request) (id, secret string) {
	if u, p, ok := r.BasicAuth(); ok {
		if du, err := url.QueryUnescape(u); err == nil {
			u = du
		}
		if dp, err := url.QueryUnescape(p); err == nil {
			p = dp
		}
		return u, p
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// discoveryMethod answers the methods the discovery document does not take.
func discoveryMethod(w http.ResponseWriter, _ *http.Request) {
	apiError(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "method not allowed")
}

// databricksTokenMethod answers the methods the Databricks token endpoint
// does not take.
func databricksTokenMethod(w http.ResponseWriter, _ *http.Request) {
	oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST required")
}

// databricksToken answers a client credentials request of a Databricks
// service principal.
func (s *Server) databricksToken(w http.ResponseWriter, r *http.Request) {
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported", gt))
		return
	}
	id, secret := clientCredentials(r)
	s.mu.Lock()
	sp, ok := s.sps[id]
	s.mu.Unlock()
	if !ok || sp.secret != secret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	if !slices.Contains(strings.Fields(r.PostForm.Get("scope")), "all-apis") {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "The requested scope is invalid; request all-apis")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": sp.token,
		"token_type":   "Bearer",
		"expires_in":   3600,
		"scope":        "all-apis",
	})
}

// azureError writes an Entra ID error answer: the OAuth error, a description
// that starts with AADSTS<code> and the code in error_codes, as Entra does.
func azureError(w http.ResponseWriter, status int, oauthCode string, aadsts int, description string) {
	writeJSON(w, status, map[string]any{
		"error":             oauthCode,
		"error_description": fmt.Sprintf("AADSTS%d: %s", aadsts, description),
		"error_codes":       []int{aadsts},
	})
}

// azureTokenMethod answers the methods the Azure AD token endpoint does not
// take.
func azureTokenMethod(w http.ResponseWriter, _ *http.Request) {
	azureError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
}

// azureToken answers a client credentials request of an Azure AD
// application in the tenant the path names.
func (s *Server) azureToken(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		azureError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
		return
	}
	id, secret := clientCredentials(r)
	s.mu.Lock()
	apps, tenantOK := s.azure[tenant]
	app, appOK := apps[id]
	s.mu.Unlock()
	switch {
	case !tenantOK:
		azureError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
		return
	case !appOK:
		azureError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", id, tenant))
		return
	case app.secret != secret:
		azureError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided.")
		return
	case r.PostForm.Get("scope") != AzureDatabricksScope:
		azureError(w, http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     3599,
		"ext_expires_in": 3599,
		"access_token":   app.token,
	})
}
