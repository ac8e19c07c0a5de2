// Command careerloop-ferretdb runs FerretDB (a MongoDB wire-protocol server)
// with its SQLite backend, for local development and CI, without Docker.
//
// Why a program of our own instead of `go install .../cmd/ferretdb`: the
// upstream command panics at start when built from the module zip, because it
// wants a generated build/version/version.txt that the zip does not contain
// (FerretDB issue #2982). The public embeddable package
// github.com/FerretDB/FerretDB/ferretdb skips that check (it only runs when
// the main module is FerretDB itself) and also disables telemetry.
//
// Write serialisation (-serialize-writes, on by default): FerretDB v1.24
// executes an update as "query matching documents, apply the operators in Go,
// UPDATE ... WHERE _id = ?" without holding a lock between the read and the
// write. Two connections updating the same document concurrently therefore
// lose updates ($inc, $push, find_one_and_update counters, and conditional
// "compare-and-set" updates all observed to lose or double-apply writes).
// MongoDB makes single-document writes atomic; to get that here, FerretDB
// listens only on a private Unix socket and this program accepts the clients'
// TCP connections itself, forwarding every message unchanged, and runs the
// write commands (insert, update, delete, findAndModify and DDL) one at a
// time across all connections. Reads are not serialised.
//
// Build and run it through build.sh / start.sh next to this file.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on (host:port)")
	sqliteURL := flag.String("sqlite-url", "file:data/",
		`SQLite URI of the data directory; must start with "file:", end with "/" and the directory must exist`)
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	serialize := flag.Bool("serialize-writes", true,
		"run write commands one at a time across connections (makes single-document updates atomic)")
	flag.Parse()

	if err := run(*listenAddr, *sqliteURL, *logLevel, *serialize); err != nil {
		fmt.Fprintf(os.Stderr, "careerloop-ferretdb: %v\n", err)
		os.Exit(1)
	}
}

func run(listenAddr, sqliteURL, logLevel string, serialize bool) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %w", logLevel, err)
	}

	// Checked here as well as by FerretDB, so that a wrong flag gives a short,
	// clear message in the log instead of a backend construction error.
	if !strings.HasPrefix(sqliteURL, "file:") || !strings.HasSuffix(sqliteURL, "/") {
		return fmt.Errorf(`-sqlite-url must look like "file:/abs/dir/", got %q`, sqliteURL)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// SIGTERM (stop.sh) and SIGINT (Ctrl-C) cancel the context; Run then closes
	// the listener, client connections and the SQLite databases cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	listener := ferretdb.ListenerConfig{TCP: listenAddr}

	var front net.Listener
	if serialize {
		// Bind the public address first, so that "address in use" fails fast.
		var err error
		if front, err = net.Listen("tcp", listenAddr); err != nil {
			return err
		}
		defer front.Close()

		// On Linux an abstract socket ("@name"): no file to clean up when the
		// process is killed, no path-length limit. Elsewhere a temp dir.
		sock := fmt.Sprintf("@careerloop-ferretdb-%d", os.Getpid())
		if runtime.GOOS != "linux" {
			dir, err := os.MkdirTemp("", "careerloop-ferretdb-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)

			sock = filepath.Join(dir, "ferretdb.sock")
		}

		listener = ferretdb.ListenerConfig{Unix: sock}
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: listener,
		Logger:   logger,
		Handler:  "sqlite",
		// No replica-set name: clients connect as to a standalone server.
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return err
	}

	logger.Info("careerloop-ferretdb starting", "listen_addr", listenAddr, "sqlite_url", sqliteURL,
		"serialize_writes", serialize, "pid", os.Getpid())

	if front == nil {
		_ = f.Run(ctx)
	} else {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = f.Run(ctx)
		}()

		p := &proxy{backend: listener.Unix, logger: logger, conns: map[net.Conn]struct{}{}}
		p.serve(ctx, front)
		<-done
	}

	logger.Info("careerloop-ferretdb stopped")

	return nil
}

// maxMessageSize bounds one wire message (MongoDB's limit is 48 MB).
const maxMessageSize = 64 << 20

// proxy forwards MongoDB wire messages between TCP clients and FerretDB's
// Unix socket, one request and its single reply at a time per connection
// (FerretDB v1.24 answers every request with exactly one reply; it supports
// neither exhaust cursors nor moreToCome).
type proxy struct {
	backend string
	logger  *slog.Logger
	writeMu sync.Mutex // held while a write command runs in FerretDB

	connsMu sync.Mutex
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// serve accepts connections until ctx is canceled, then closes them all.
func (p *proxy) serve(ctx context.Context, l net.Listener) {
	go func() {
		<-ctx.Done()
		l.Close()

		p.connsMu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.connsMu.Unlock()
	}()

	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() == nil {
				p.logger.Error("accept failed", "error", err)
			}
			break
		}

		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(ctx, c)
		}()
	}

	p.wg.Wait()
}

func (p *proxy) track(c net.Conn, add bool) {
	p.connsMu.Lock()
	defer p.connsMu.Unlock()

	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *proxy) handle(ctx context.Context, client net.Conn) {
	defer client.Close()

	backend, err := net.Dial("unix", p.backend)
	if err != nil {
		p.logger.Error("cannot connect to FerretDB", "error", err)
		return
	}
	defer backend.Close()

	p.track(client, true)
	p.track(backend, true)
	defer p.track(client, false)
	defer p.track(backend, false)

	// shutdown may have started before track
	if ctx.Err() != nil {
		return
	}

	for {
		req, err := readMessage(client)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				p.logger.Debug("client connection ended", "remote", client.RemoteAddr(), "error", err)
			}
			return
		}

		reply, err := p.roundTrip(backend, req)
		if err != nil {
			if ctx.Err() == nil {
				p.logger.Warn("FerretDB connection failed", "error", err)
			}
			return
		}

		if _, err = client.Write(reply); err != nil {
			return
		}
	}
}

func (p *proxy) roundTrip(backend net.Conn, req []byte) ([]byte, error) {
	if isWrite(req) {
		p.writeMu.Lock()
		defer p.writeMu.Unlock()
	}

	if _, err := backend.Write(req); err != nil {
		return nil, err
	}

	return readMessage(backend)
}

// readMessage reads one whole wire message (header included).
func readMessage(r io.Reader) ([]byte, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, err
	}

	n := int(int32(binary.LittleEndian.Uint32(lenBuf[:])))
	if n < 16 || n > maxMessageSize {
		return nil, fmt.Errorf("bad message length %d", n)
	}

	msg := make([]byte, n)
	copy(msg, lenBuf[:])
	if _, err := io.ReadFull(r, msg[4:]); err != nil {
		return nil, err
	}

	return msg, nil
}

// Commands (lower-cased) that change data or metadata.
var writeCommands = map[string]bool{
	"insert": true, "update": true, "delete": true, "findandmodify": true,
	"create": true, "createindexes": true, "dropindexes": true, "drop": true,
	"dropdatabase": true, "renamecollection": true, "collmod": true,
}

const (
	opMsg        = 2013
	opCompressed = 2012
)

// isWrite reports whether req is a write command. A message it cannot parse
// is treated as a write: serialising it is safe, just slower.
func isWrite(req []byte) bool {
	switch int32(binary.LittleEndian.Uint32(req[12:16])) {
	case opMsg:
		name, ok := opMsgCommand(req)
		return !ok || writeCommands[strings.ToLower(name)]
	case opCompressed:
		return true
	default:
		// OP_QUERY: only the legacy handshake (hello/isMaster) uses it today.
		return false
	}
}

// opMsgCommand returns the command name: the first key of the body (kind 0)
// section of an OP_MSG.
func opMsgCommand(msg []byte) (string, bool) {
	if len(msg) < 21 {
		return "", false
	}

	end := len(msg)
	if binary.LittleEndian.Uint32(msg[16:20])&1 != 0 { // checksumPresent
		end -= 4
	}

	for off := 20; off < end; {
		kind := msg[off]
		off++

		if off+4 > end {
			return "", false
		}

		size := int(int32(binary.LittleEndian.Uint32(msg[off:])))
		if size < 5 || off+size > end {
			return "", false
		}

		if kind == 0 {
			// BSON document: int32 size, then elements of type byte + cstring name.
			doc := msg[off : off+size]
			if doc[4] == 0 { // empty document
				return "", false
			}

			name := doc[5:]
			i := 0
			for i < len(name) && name[i] != 0 {
				i++
			}
			if i == len(name) {
				return "", false
			}

			return string(name[:i]), true
		}

		off += size // kind 1: document sequence, size includes itself
	}

	return "", false
}
