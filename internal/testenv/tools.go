package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// Pinned tool versions.
const (
	VersityGWModule  = "github.com/versity/versitygw/cmd/versitygw"
	VersityGWVersion = "v1.8.0"
	AzuritePackage   = "azurite"
	AzuriteVersion   = "3.37.0"
)

// ToolsDir returns where the rig's tools live: $MIGRATE_RIG_DIR when set,
// else <module root>/.rig, the module root being the first directory holding
// go.mod walking up from the working directory.
func ToolsDir() (string, error) {
	if d := os.Getenv("MIGRATE_RIG_DIR"); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".rig"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testenv: no go.mod above %s; set MIGRATE_RIG_DIR", wd)
		}
		dir = parent
	}
}

// VersityGWPath is the versitygw binary InstallTools puts under dir.
func VersityGWPath(dir string) string { return filepath.Join(dir, "bin", "versitygw") }

// AzuritePath is the azurite-blob launcher InstallTools puts under dir.
func AzuritePath(dir string) string {
	return filepath.Join(dir, "azurite", "node_modules", ".bin", "azurite-blob")
}

// ToolsInstalled reports, as an error naming what is missing and how to
// install it, whether both tools are present under dir.
func ToolsInstalled(dir string) error {
	var missing []error
	for _, p := range []string{VersityGWPath(dir), AzuritePath(dir)} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, fmt.Errorf("%s missing", p))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("testenv: rig tools not installed (run `go run ./internal/testenv/cmd/rig install`): %w", errors.Join(missing...))
	}
	return nil
}

// InstallTools installs what is missing under dir: versitygw with
// `go install` into dir/bin and Azurite with `npm install` into dir/azurite.
// Tools already present are left alone. Command output goes to log (nil
// discards it).
func InstallTools(ctx context.Context, dir string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(VersityGWPath(dir)); err != nil {
		fmt.Fprintf(log, "installing %s@%s into %s\n", VersityGWModule, VersityGWVersion, filepath.Join(dir, "bin"))
		cmd := exec.CommandContext(ctx, "go", "install", VersityGWModule+"@"+VersityGWVersion)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOBIN="+filepath.Join(dir, "bin"), "GOFLAGS=")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("testenv: go install versitygw: %w", err)
		}
	}
	if _, err := os.Stat(AzuritePath(dir)); err != nil {
		prefix := filepath.Join(dir, "azurite")
		fmt.Fprintf(log, "installing %s@%s into %s\n", AzuritePackage, AzuriteVersion, prefix)
		if err := os.MkdirAll(prefix, 0o755); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", AzuritePackage+"@"+AzuriteVersion)
		cmd.Dir = prefix
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("testenv: npm install azurite: %w", err)
		}
	}
	return ToolsInstalled(dir)
}
