package core

import "context"

// CleanupTimeout bounds every clean-up: a rollback, a discarded secret, a
// scheduled deletion, a handed-over secret deleted after use.
const CleanupTimeout = cleanupTimeout

// CleanupContext is the context of a clean-up done outside core (the
// adapters' discards): it outlives ctx's cancellation, as the core's own
// clean-ups do, and ends after CleanupTimeout.
func CleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return cleanupContext(ctx)
}
