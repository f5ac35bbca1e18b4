package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Root credentials of the rig's S3 server. They protect nothing but local
// test data.
const (
	S3AccessKey = "migrate-rig-access"
	S3SecretKey = "migrate-rig-secret-key"
	S3Region    = "us-east-1"
)

// S3Server is a running versitygw with a POSIX backend.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Region    string // S3Options.Region, "us-east-1" by default
	AccessKey string
	SecretKey string
	DataDir   string // holds root/ (the buckets) and versitygw.log

	proc     *process
	ownsData bool
}

// S3Options configure StartS3.
type S3Options struct {
	ToolsDir string // where InstallTools put versitygw; "" means ToolsDir()
	DataDir  string // "" means a new temporary directory, removed by Stop
	// CopyObjectThreshold lowers the largest source CopyObject and
	// UploadPartCopy accept (versitygw --copy-object-threshold); 0 keeps
	// S3's 5 GiB.
	CopyObjectThreshold int64
	Log                 io.Writer // progress lines; nil discards
	// Region is the server's region (versitygw --region): it checks every
	// signature's credential scope against it and accepts no other
	// LocationConstraint. "" means S3Region (us-east-1).
	Region string
}

// StartS3 starts versitygw on a free 127.0.0.1 port and waits until it
// answers.
func StartS3(ctx context.Context, opts S3Options) (*S3Server, error) {
	log, bin, dir, owns, err := prepare(opts.Log, opts.ToolsDir, opts.DataDir, "versitygw", VersityGWPath, "migrate-s3-*")
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "versitygw.log")
	region := opts.Region
	if region == "" {
		region = S3Region
	}
	env := []string{"ROOT_ACCESS_KEY=" + S3AccessKey, "ROOT_SECRET_KEY=" + S3SecretKey, "VGW_REGION=" + region}
	launch := func(port int) (*process, error) {
		// --keep-alive: real S3 keeps connections open, and so must the rig.
		argv := []string{bin, "--port", "127.0.0.1:" + itoa(port), "--quiet", "--keep-alive"}
		if opts.CopyObjectThreshold > 0 {
			argv = append(argv, "--copy-object-threshold", strconv.FormatInt(opts.CopyObjectThreshold, 10))
		}
		argv = append(argv, "posix", root)
		return startProcess("versitygw", dir, logPath, env, argv...)
	}
	probe := func(port int) string { return "http://127.0.0.1:" + itoa(port) + "/" }
	p, port, err := startServer(ctx, "versitygw", logPath, launch, probe)
	if err != nil {
		if owns {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	s := &S3Server{
		Endpoint:  "http://127.0.0.1:" + itoa(port),
		Region:    region,
		AccessKey: S3AccessKey,
		SecretKey: S3SecretKey,
		DataDir:   dir,
		proc:      p,
		ownsData:  owns,
	}
	fmt.Fprintf(log, "testenv: versitygw (%s) listening on %s (data %s)\n", region, s.Endpoint, dir)
	return s, nil
}

// Stop terminates the server (SIGTERM, then SIGKILL after 15 s) and removes
// its data directory when StartS3 created it.
func (s *S3Server) Stop() error {
	if s == nil || s.proc == nil {
		return nil
	}
	err := s.proc.stop(15 * time.Second)
	if s.ownsData {
		if rerr := os.RemoveAll(s.DataDir); err == nil {
			err = rerr
		}
	}
	return err
}

// NewClient returns a raw aws-sdk-go-v2 client of the server for seeding
// and checking: path-style addressing, static credentials, no retries. It
// loads the configuration with the SDK's default (buildable) HTTP client so
// that AWS_CA_BUNDLE in the environment works.
func (s *S3Server) NewClient(ctx context.Context) (*s3.Client, error) {
	return NewS3Client(ctx, s.Endpoint, s.Region, s.AccessKey, s.SecretKey)
}

// NewS3Client is NewClient for any endpoint, e.g. an S3Proxy's URL.
func NewS3Client(ctx context.Context, endpoint, region, accessKey, secretKey string) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")),
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	)
	if err != nil {
		return nil, fmt.Errorf("testenv: load AWS config: %w", err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}), nil
}
