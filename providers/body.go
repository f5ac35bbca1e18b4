package providers

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
)

// HashBody reads the size bytes of body after its current position once,
// to hash them, and returns them as a reader positioned at their start
// that seeks relative to it (SDKs seek a body back to send it again on a
// retry, or to its end to learn its length), with their MD5 (raw 16
// bytes). A body shorter than size is KindInvalid; a canceled ctx is
// KindCanceled. op and where name the request in errors.
func HashBody(ctx context.Context, op, where string, body io.ReadSeeker, size int64) (io.ReadSeeker, []byte, error) {
	w, err := newWindow(body, size)
	if err != nil {
		return nil, nil, &Error{Kind: KindInvalid, Op: op, Where: where, Msg: "body: " + err.Error(), Err: err}
	}
	h := md5.New()
	n, err := io.Copy(h, w)
	if ctx.Err() != nil {
		return nil, nil, &Error{Kind: KindCanceled, Op: op, Where: where, Err: ctx.Err()}
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, nil, &Error{Kind: KindUnknown, Op: op, Where: where, Msg: "reading the body: " + Redact(err.Error()), Err: err}
	}
	if n != size {
		return nil, nil, &Error{Kind: KindInvalid, Op: op, Where: where, Msg: fmt.Sprintf("body has %d bytes, expected %d", n, size)}
	}
	if _, err := w.Seek(0, io.SeekStart); err != nil {
		return nil, nil, &Error{Kind: KindInvalid, Op: op, Where: where, Msg: "body: " + err.Error(), Err: err}
	}
	return w, h.Sum(nil), nil
}

// window is the size bytes of an io.ReadSeeker after its position when the
// window was made, seekable relative to that start.
type window struct {
	rs         io.ReadSeeker
	base, size int64
	pos        int64 // relative to base
}

func newWindow(rs io.ReadSeeker, size int64) (*window, error) {
	if rs == nil {
		return nil, errors.New("nil body")
	}
	base, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	return &window{rs: rs, base: base, size: size}, nil
}

func (w *window) Read(p []byte) (int, error) {
	if w.pos >= w.size {
		return 0, io.EOF
	}
	if rem := w.size - w.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := w.rs.Read(p)
	w.pos += int64(n)
	if err == io.EOF && w.pos < w.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (w *window) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = w.pos + offset
	case io.SeekEnd:
		abs = w.size + offset
	default:
		return 0, errors.New("window: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("window: negative position")
	}
	if _, err := w.rs.Seek(w.base+abs, io.SeekStart); err != nil {
		return 0, err
	}
	w.pos = abs
	return abs, nil
}
