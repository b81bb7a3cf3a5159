package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/bellsync/bellsync/providers"
)

// FileStore is a [providers.TokenStore] in one JSON file, for setups
// without a state database. It writes the file with mode 0600, atomically
// (temporary file, fsync, rename, fsync of the directory), and refuses to
// read a file that group or others may read, since it holds live
// credentials.
//
// A FileStore is safe for concurrent use within one process; use a pointer.
// Two processes saving different keys at the same moment may lose one
// update, so give each process its own file or use the state database.
type FileStore struct {
	Path string

	// mu serialises the read-modify-write of Save.
	mu sync.Mutex
}

var _ providers.TokenStore = (*FileStore)(nil)

// errBadTokenFile marks a token file that only the user can fix (open
// permissions, not JSON): retrying would only repeat the error.
var errBadTokenFile = errors.New("oauth: token file")

// fileData is the file's layout. Values are the opaque bytes the caller
// saved (base64 in JSON).
type fileData struct {
	Version int               `json:"version"`
	Tokens  map[string][]byte `json:"tokens"`
}

// LoadToken returns the data saved under key, or an error matching
// ErrNoToken when the file or the key does not exist.
func (f *FileStore) LoadToken(ctx context.Context, key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.read()
	if err != nil {
		return nil, err
	}
	v, ok := d.Tokens[key]
	if !ok {
		return nil, fmt.Errorf("oauth: token file %s has no %s: %w", f.Path, key, ErrNoToken)
	}
	return v, nil
}

// SaveToken stores data under key; the file is on disk when it returns.
func (f *FileStore) SaveToken(ctx context.Context, key string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.read()
	if err != nil && !errors.Is(err, ErrNoToken) {
		return err
	}
	if d.Tokens == nil {
		d.Tokens = map[string][]byte{}
	}
	d.Version = 1
	d.Tokens[key] = data
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("oauth: save token file: %w", err)
	}
	return writeAtomic(f.Path, out)
}

// read loads the file. A missing file is ErrNoToken.
func (f *FileStore) read() (fileData, error) {
	var d fileData
	fh, err := os.Open(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return d, fmt.Errorf("oauth: token file %s: %w", f.Path, ErrNoToken)
	}
	if err != nil {
		return d, fmt.Errorf("oauth: token file: %w", err)
	}
	defer fh.Close()
	// Check the file we opened, not the path, so a swap in between cannot
	// slip a readable file past the check.
	fi, err := fh.Stat()
	if err != nil {
		return d, fmt.Errorf("oauth: token file: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return d, fmt.Errorf("%w: %s is accessible by group or others (mode %04o); run `chmod 600 %s`",
			errBadTokenFile, f.Path, fi.Mode().Perm(), f.Path)
	}
	if err := json.NewDecoder(fh).Decode(&d); err != nil {
		return d, fmt.Errorf("%w: %s is not valid JSON (%v); fix or delete it and run `bellsync auth ghl`", errBadTokenFile, f.Path, err)
	}
	return d, nil
}

// writeAtomic replaces path with data so that a crash leaves either the old
// or the new file, never a torn one.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("oauth: save token file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("oauth: save token file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; say so explicitly in case that changes.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("oauth: save token file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("oauth: save token file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("oauth: save token file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("oauth: save token file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("oauth: save token file: %w", err)
	}
	// The rename is durable only once the directory entry is.
	if d, err := os.Open(dir); err == nil {
		serr := d.Sync()
		_ = d.Close()
		if serr != nil && runtime.GOOS != "windows" {
			return fmt.Errorf("oauth: save token file: sync dir: %w", serr)
		}
	}
	return nil
}
