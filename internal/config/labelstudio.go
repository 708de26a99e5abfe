package config

import (
	"errors"
	"net/url"
	"strings"
)

// LabelStudio is the Label Studio the service defers to for who a caller is
// and which projects exist (Label Studio mode); zero without one.
type LabelStudio struct {
	// URL is Label Studio's base URL (LABEL_STUDIO_URL); empty: the
	// service's own API keys decide (standalone mode).
	URL string
	// TokenSecret names the Secrets Manager secret (ARN or name) holding the
	// service credential, a Label Studio token (LABEL_STUDIO_TOKEN_SECRET).
	// The token itself is never in the environment.
	TokenSecret string
}

// Origin is the origin (scheme://host[:port]) of the Label Studio, whose
// pages may read files through the file route (CORS); empty without one.
func (l LabelStudio) Origin() string {
	u, err := url.Parse(l.URL)
	if l.URL == "" || err != nil {
		return ""
	}
	return u.Scheme + "://" + strings.ToLower(u.Host)
}

// Enabled reports whether a Label Studio is configured.
func (l LabelStudio) Enabled() bool { return l.URL != "" }

// labelStudioFromEnv reads LABEL_STUDIO_URL and LABEL_STUDIO_TOKEN_SECRET.
func labelStudioFromEnv(getenv func(string) string) (LabelStudio, error) {
	l := LabelStudio{
		URL:         strings.TrimSuffix(strings.TrimSpace(getenv("LABEL_STUDIO_URL")), "/"),
		TokenSecret: strings.TrimSpace(getenv("LABEL_STUDIO_TOKEN_SECRET")),
	}
	if l.URL == "" {
		return l, nil
	}
	var errs []error
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// The value is not quoted: a URL with a user part may hold a password.
		errs = append(errs, errors.New("LABEL_STUDIO_URL must be an http(s) URL of a Label Studio, without credentials, query or fragment"))
	}
	if l.TokenSecret == "" {
		errs = append(errs, errors.New("LABEL_STUDIO_TOKEN_SECRET is required with LABEL_STUDIO_URL: the ARN or name of the secret holding the service's Label Studio token"))
	}
	return l, errors.Join(errs...)
}
