package storage

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// SetS3BackoffForTest makes S3 retries wait d between attempts until the
// returned function restores the default.
func SetS3BackoffForTest(d time.Duration) (restore func()) {
	prev := s3Backoff
	s3Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return d, nil })
	return func() { s3Backoff = prev }
}
