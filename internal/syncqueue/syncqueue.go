// Package syncqueue sends the sync and export queues' messages through
// SQS (core.SyncQueue, core.ExportQueue), in package syncmsg's encoding.
// Only the functions that send them link it, and with it the SQS client.
package syncqueue

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lsdbx/databricks-storage/internal/awsclients"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/syncmsg"
)

// API is the part of the SQS client the queue uses.
type API interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Queue sends sync messages to the queue at URL.
type Queue struct {
	Client API
	URL    string
}

// New is a queue at url with an SQS client built on cfg (a configuration
// from awsclients.Load). Only the functions that send messages call it, so
// the SQS client is linked into no other function (the create function's
// size: BENCHMARKS.md, artifact size).
func New(cfg aws.Config, url string) *Queue {
	return &Queue{Client: sender{send: sqs.NewFromConfig(awsclients.Bounded(cfg)).SendMessage}, URL: url}
}

// sender holds the one operation as a method value, for the reason
// awsclients gives (reflection cannot reach the client's other methods).
type sender struct {
	send func(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

func (s sender) SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return s.send(ctx, in, opts...)
}

// SendSync implements core.SyncQueue.
func (q *Queue) SendSync(ctx context.Context, m core.SyncMessage) error {
	_, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(syncmsg.Encode(m))})
	if err != nil {
		return fmt.Errorf("send sync message: %w", err)
	}
	return nil
}

// SendExport implements core.ExportQueue.
func (q *Queue) SendExport(ctx context.Context, m core.ExportMessage) error {
	_, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(syncmsg.EncodeExport(m))})
	if err != nil {
		return fmt.Errorf("send export message: %w", err)
	}
	return nil
}

// Parts builds what starting and showing syncs needs, as app.Options.Sync
// takes it: the syncs' store in table (with DynamoDB's batch operations)
// and the sync queue at url.
func Parts(cfg aws.Config, table, url string) (core.SyncStore, core.SyncQueue) {
	return &dynamostore.Syncs{Client: awsclients.NewBatchDynamoDB(cfg), Table: table}, New(cfg, url)
}

// ExportParts builds what taking webhook deliveries and starting export
// syncs needs, as app.Options.Export takes it: the export storages' syncs
// and annotation records in table and the export queue at url.
func ExportParts(cfg aws.Config, table, url string) (core.ExportState, core.ExportQueue) {
	return &dynamostore.Syncs{Client: awsclients.NewBatchDynamoDB(cfg), Table: table, Export: true}, New(cfg, url)
}
