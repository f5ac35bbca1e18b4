package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// The per-binary servers behind S3 and Azure.
var shared struct {
	mu       sync.Mutex
	s3       *S3Server
	s3Err    error
	azure    *AzureServer
	azureErr error
}

// Main runs the tests and then stops the servers S3 and Azure started. Use
// it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// Without it the servers still die with the test binary (Linux), but
// uncleanly, leaving their temporary directories behind.
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.s3 != nil {
		if err := shared.s3.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stop S3:", err)
		}
		shared.s3 = nil
	}
	if shared.azure != nil {
		if err := shared.azure.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stop Azure:", err)
		}
		shared.azure = nil
	}
	return code
}

// S3 returns the test binary's S3 server, starting it on first use. The
// server is shared by all tests of the binary: use unique bucket names.
// When the tools are missing or it cannot start, the test is skipped, or
// fails when the environment has CI=true.
func S3(t testing.TB) *S3Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.s3 == nil && shared.s3Err == nil {
		shared.s3, shared.s3Err = startShared(func(ctx context.Context, tools string) (*S3Server, error) {
			return StartS3(ctx, S3Options{ToolsDir: tools})
		})
	}
	if shared.s3Err != nil {
		unavailable(t, "S3 server", shared.s3Err)
	}
	return shared.s3
}

// Azure returns the test binary's Azurite with its copy-source front,
// starting it on first use; see S3 for sharing and skipping.
func Azure(t testing.TB) *AzureServer {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.azure == nil && shared.azureErr == nil {
		shared.azure, shared.azureErr = startShared(func(ctx context.Context, tools string) (*AzureServer, error) {
			return StartAzure(ctx, AzureOptions{ToolsDir: tools})
		})
	}
	if shared.azureErr != nil {
		unavailable(t, "Azurite", shared.azureErr)
	}
	return shared.azure
}

func startShared[T any](start func(ctx context.Context, tools string) (T, error)) (T, error) {
	var zero T
	tools, err := ToolsDir()
	if err != nil {
		return zero, err
	}
	if err := ToolsInstalled(tools); err != nil {
		return zero, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return start(ctx, tools)
}

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: %s unavailable (CI=true, so this fails instead of skipping): %v", what, err)
	}
	t.Skipf("testenv: %s unavailable, skipping: %v", what, err)
}
