// Package sqspoller stands in, on this machine, for Lambda's SQS event
// source mapping: it creates a queue with a dead-letter queue in the local
// AWS (moto), receives its messages in batches, hands them to a handler as
// an events.SQSEvent, deletes those the handler does not report as failed,
// and leaves the failed ones to come back after the visibility timeout.
package sqspoller

import (
	"context"

	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Handler handles a batch as a Lambda function with
// ReportBatchItemFailures does.
type Handler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// Queue is a queue made for local runs.
type Queue struct {
	URL, ARN string
	client   *sqs.Client
}

// Create creates (or finds) the queue name and its dead-letter queue
// name+"-dlq", with maxReceives as the redrive policy's maxReceiveCount and
// a short visibility timeout, so that a failed message comes back soon.
func Create(ctx context.Context, cfg aws.Config, name string, visibility time.Duration, maxReceives int) (*Queue, error) {
	c := sqs.NewFromConfig(cfg)
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		return nil, fmt.Errorf("create queue %s-dlq: %w", name, err)
	}
	dlqARN, err := arnOf(ctx, c, *dlq.QueueUrl)
	if err != nil {
		return nil, err
	}
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"VisibilityTimeout": strconv.Itoa(max(1, int(visibility/time.Second))),
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, dlqARN, maxReceives),
	}})
	if err != nil {
		return nil, fmt.Errorf("create queue %s: %w", name, err)
	}
	arn, err := arnOf(ctx, c, *q.QueueUrl)
	if err != nil {
		return nil, err
	}
	return &Queue{URL: *q.QueueUrl, ARN: arn, client: c}, nil
}

func arnOf(ctx context.Context, c *sqs.Client, url string) (string, error) {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("read the ARN of %s: %w", url, err)
	}
	return out.Attributes[string(types.QueueAttributeNameQueueArn)], nil
}

// Poll hands the queue's messages to h until ctx ends, one per
// invocation (Lambda's BatchSize 1), up to concurrency at once (its
// MaximumConcurrency). One loop receives for all, without long polling:
// moto serves requests one at a time, so a long poll would hold every
// other AWS call of the run.
func (q *Queue) Poll(ctx context.Context, concurrency int, h Handler, logger *slog.Logger) {
	slots := make(chan struct{}, concurrency)
	for ctx.Err() == nil {
		slots <- struct{}{}
		free := 1
		for free < concurrency && len(slots) < cap(slots) {
			slots <- struct{}{}
			free++
		}
		out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.URL), MaxNumberOfMessages: int32(min(free, 10)),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		n := 0
		if err == nil {
			n = len(out.Messages)
		}
		for range free - n {
			<-slots
		}
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("local SQS poller: receive failed", slog.String("error", err.Error()))
				sleep(ctx, time.Second)
			}
			continue
		}
		if n == 0 {
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		for _, m := range out.Messages {
			go func() {
				defer func() { <-slots }()
				q.invoke(ctx, m, h, logger)
			}()
		}
	}
}

// invoke runs one message and deletes it unless it failed.
func (q *Queue) invoke(ctx context.Context, m types.Message, h Handler, logger *slog.Logger) {
	rec := events.SQSMessage{
		MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
		Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSourceARN: q.ARN, EventSource: "aws:sqs",
	}
	resp, err := h(ctx, events.SQSEvent{Records: []events.SQSMessage{rec}})
	if err != nil || len(resp.BatchItemFailures) > 0 {
		return // back after the visibility timeout
	}
	if _, err := q.client.DeleteMessage(context.WithoutCancel(ctx), &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
		logger.Warn("local SQS poller: delete failed", slog.String("error", err.Error()))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
