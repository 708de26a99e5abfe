package core

import (
	"net/url"
	"slices"
)

// Principal is a caller authenticated by an API token.
type Principal struct {
	// TokenID identifies the token used; it is safe to log.
	TokenID string
	// User is the token's user.
	User string
	// Organization is the token's organization, possibly empty.
	Organization string
	// AllProjects grants every project the service serves.
	AllProjects bool
	// Projects lists the granted project ids when AllProjects is false.
	Projects []int64
	// Credential is the caller's Authorization header when a ProjectAccess
	// must ask on the caller's behalf (Label Studio mode); it never prints.
	Credential Credential
}

// CanManage reports whether the principal may manage storages of project.
//
// The service does not know which organization a project belongs to, so an
// all-projects token may manage any project this deployment serves.
func (p Principal) CanManage(project int64) bool {
	return p.AllProjects || slices.Contains(p.Projects, project)
}

// Caller is who asks for an operation: a token holder, or an AWS source that
// IAM has already authorised (SQS, EventBridge, a direct invocation).
type Caller struct {
	// Principal is the token holder; nil for a trusted AWS source.
	Principal *Principal
	// Source names the AWS source of a trusted caller ("sqs", "eventbridge",
	// "direct"); it is only logged.
	Source string
}

// TokenHolder is the caller authenticated as p.
func TokenHolder(p Principal) Caller { return Caller{Principal: &p} }

// TrustedSource is an IAM-authorised AWS source.
func TrustedSource(source string) Caller { return Caller{Source: source} }

// authorize returns a *PermissionError when the caller may not manage the
// project. Trusted sources may manage every project.
func (c Caller) authorize(project int64) error {
	if c.Principal == nil || c.Principal.CanManage(project) {
		return nil
	}
	return &PermissionError{TokenID: c.Principal.TokenID, Project: project}
}

// keyScope qualifies idempotency keys so that equal keys of different
// callers never meet. A token holder's keys are scoped by organization and
// user (escaped, so that no pair can spell another's scope); the trusted AWS
// sources share one scope, so a key sent through SQS and again through
// EventBridge names one storage.
func (c Caller) keyScope() string {
	if c.Principal == nil {
		return "event"
	}
	return "token:" + url.QueryEscape(c.Principal.Organization) + "/" + url.QueryEscape(c.Principal.User)
}
