package secretstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// IncomingDir is the part of a secret name, after the prefix, under which
// senders of queued and evented creates put the credentials they hand over
// (see Incoming).
const IncomingDir = "incoming/"

// errNotIncoming is returned for a secret id outside the incoming prefix.
var errNotIncoming = errors.New("not a secret under the incoming prefix")

// IncomingAPI is the part of the Secrets Manager client Incoming uses.
type IncomingAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

// Incoming reads and deletes the secrets through which SQS messages and
// EventBridge events hand over credentials: the sender stores them as a JSON
// object ({"token": …} or {"client_secret": …}) in a secret named
// <prefix>incoming/<anything>, and sends its ARN or name. The function may
// read and delete only secrets under that prefix.
type Incoming struct {
	Client IncomingAPI
	// Prefix is the storage secrets' prefix; IncomingDir is appended.
	Prefix string
}

// Dir is the full prefix of handed-over secrets.
func (in *Incoming) Dir() string { return in.Prefix + IncomingDir }

// name returns the secret name of an ARN or name.
func name(id string) string {
	if strings.HasPrefix(id, "arn:") {
		if _, after, ok := strings.Cut(id, ":secret:"); ok {
			// The ARN ends in "-" and six random characters.
			if i := strings.LastIndexByte(after, '-'); i > 0 && len(after)-i == 7 {
				return after[:i]
			}
			return after
		}
	}
	return id
}

// Owns reports whether id (an ARN or name) names a secret under the
// incoming prefix.
func (in *Incoming) Owns(id string) bool {
	n := name(id)
	return strings.HasPrefix(n, in.Dir()) && len(n) > len(in.Dir())
}

// Read returns the values of the handed-over secret id (an ARN or name);
// found is false when it does not exist (anymore).
func (in *Incoming) Read(ctx context.Context, id string) (values map[string]string, found bool, err error) {
	if !in.Owns(id) {
		return nil, false, errNotIncoming
	}
	out, err := in.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	var notFound *types.ResourceNotFoundException
	var invalid *types.InvalidRequestException
	switch {
	case errors.As(err, &notFound), errors.As(err, &invalid): // gone, or scheduled for deletion
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("read the credentials secret: %w", err)
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &values); err != nil {
		// The decoder's message could quote the value: say only what is wrong.
		return nil, true, errors.New("the credentials secret is not a JSON object of strings")
	}
	return values, true, nil
}

// Delete removes a handed-over secret at once; one already gone counts as
// deleted.
func (in *Incoming) Delete(ctx context.Context, id string) error {
	if !in.Owns(id) {
		return errNotIncoming
	}
	return ForceDelete(ctx, in.Client, id)
}
