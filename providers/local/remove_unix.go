//go:build unix

package local

import (
	"os"
	"syscall"
)

// removeFile unlinks path; unlike os.Remove it never removes a directory
// that replaced the file since it was checked.
func removeFile(path string) error {
	if err := syscall.Unlink(path); err != nil {
		return &os.PathError{Op: "unlink", Path: path, Err: err}
	}
	return nil
}
