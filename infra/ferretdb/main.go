// Command careerloop-ferretdb runs FerretDB (a MongoDB wire-protocol server)
// with its SQLite backend, or its PostgreSQL backend when -postgresql-url is
// given, for local development and CI, without Docker.
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
// The proxy always runs (-serialize-writes=false only turns the write lock
// off), because it also works around two FerretDB v1.24 bugs that break
// ordinary pymongo use:
//
//   - createIndexes with two or more indexes of which at least two already
//     exist panics in FerretDB (validateIndexesForCreation deletes from the
//     slice it is indexing: "slice bounds out of range [:2:1]"); FerretDB
//     recovers and drops the connection, and the client sees AutoReconnect.
//     That is what every new process that prepares its collections does
//     against an existing database. With three or more indexes it can instead
//     silently skip creating a new index. The proxy sends such a command to
//     FerretDB as one createIndexes per index (see createIndexesOneByOne).
//   - FerretDB ignores the moreToCome flag (unacknowledged writes, w=0) and
//     replies anyway; the client takes that reply for the answer to its next
//     request (pymongo: ProtocolError "Got response id ..."). The proxy drops
//     replies to moreToCome requests.
//
// A panic while proxying one connection is recovered, logged with its stack,
// and closes only that connection.
//
// Build and run it through build.sh / start.sh next to this file.
package main

import (
	"bytes"
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
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/FerretDB/wire/wirebson"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on (host:port)")
	sqliteURL := flag.String("sqlite-url", "file:data/",
		`SQLite URI of the data directory; must start with "file:", end with "/" and the directory must exist`)
	postgresqlURL := flag.String("postgresql-url", "",
		"PostgreSQL connection string (postgres://host:port/db); when set, the PostgreSQL backend is used instead of SQLite")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	serialize := flag.Bool("serialize-writes", true,
		"run write commands one at a time across connections (makes single-document updates atomic)")
	flag.Parse()

	if err := run(*listenAddr, *sqliteURL, *postgresqlURL, *logLevel, *serialize); err != nil {
		fmt.Fprintf(os.Stderr, "careerloop-ferretdb: %v\n", err)
		os.Exit(1)
	}
}

func run(listenAddr, sqliteURL, postgresqlURL, logLevel string, serialize bool) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %w", logLevel, err)
	}

	// Checked here as well as by FerretDB, so that a wrong flag gives a short,
	// clear message in the log instead of a backend construction error.
	backend := "sqlite"
	if postgresqlURL != "" {
		backend = "postgresql"
	} else if !strings.HasPrefix(sqliteURL, "file:") || !strings.HasSuffix(sqliteURL, "/") {
		return fmt.Errorf(`-sqlite-url must look like "file:/abs/dir/", got %q`, sqliteURL)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// SIGTERM (stop.sh) and SIGINT (Ctrl-C) cancel the context; Run then closes
	// the listener, client connections and the SQLite databases cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Bind the public address first, so that "address in use" fails fast.
	front, err := net.Listen("tcp", listenAddr)
	if err != nil {
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

	listener := ferretdb.ListenerConfig{Unix: sock}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: listener,
		Logger:   logger,
		Handler:  backend,
		// No replica-set name: clients connect as to a standalone server.
		SQLiteURL:     sqliteURL,
		PostgreSQLURL: postgresqlURL,
	})
	if err != nil {
		return err
	}

	logger.Info("careerloop-ferretdb starting", "listen_addr", listenAddr, "backend", backend, "sqlite_url", sqliteURL,
		"serialize_writes", serialize, "pid", os.Getpid())

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()

	p := &proxy{backend: sock, serialize: serialize, logger: logger, conns: map[net.Conn]struct{}{}}
	p.serve(ctx, front)
	<-done

	logger.Info("careerloop-ferretdb stopped")

	return nil
}

// maxMessageSize bounds one wire message (MongoDB's limit is 48 MB).
const maxMessageSize = 64 << 20

// proxy forwards MongoDB wire messages between TCP clients and FerretDB's
// Unix socket, one request and its single reply at a time per connection
// (FerretDB v1.24 answers every request with exactly one reply, whatever its
// flags; it supports neither exhaust cursors nor moreToCome).
type proxy struct {
	backend   string
	serialize bool
	logger    *slog.Logger
	writeMu   sync.Mutex // held while a write command runs in FerretDB (if serialize)

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

	// A bug here (or in wirebson, which panics on some inputs) must cost only
	// this connection, never the whole server: an unrecovered panic in a
	// goroutine ends the process. Deferred unlocks have run by the time this
	// recovers, so the write lock is not left held.
	defer func() {
		if r := recover(); r != nil {
			p.logger.Error("proxy: panic while serving a connection; closing it",
				"remote", client.RemoteAddr(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()

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

		reply, err := p.serveRequest(backend, req)
		if err != nil {
			if ctx.Err() == nil {
				// Usually FerretDB dropped its end after a panic in a command
				// handler (logged just before by FerretDB, level ERROR+1).
				p.logger.Warn("FerretDB connection failed; closing the client connection",
					"remote", client.RemoteAddr(), "command", commandName(req), "error", err)
			}
			return
		}

		if reply == nil { // moreToCome: the client expects no reply
			continue
		}

		if _, err = client.Write(reply); err != nil {
			return
		}
	}
}

// serveRequest sends one client request to FerretDB and returns the reply
// for the client (nil if the client expects none).
func (p *proxy) serveRequest(backend net.Conn, req []byte) ([]byte, error) {
	if plan := planCreateIndexes(req); plan != nil {
		p.lockWrites()
		defer p.unlockWrites()

		reply, err := p.createIndexesOneByOne(backend, req, plan)
		if moreToCome(req) {
			return nil, err
		}

		return reply, err
	}

	if isWrite(req) {
		p.lockWrites()
		defer p.unlockWrites()
	}

	if moreToCome(req) {
		// FerretDB replies anyway; pass that reply on and the client would
		// take it for the answer to its next request. Read it and drop it.
		if _, err := roundTrip(backend, req); err != nil {
			return nil, err
		}

		return nil, nil
	}

	return roundTrip(backend, req)
}

func (p *proxy) lockWrites() {
	if p.serialize {
		p.writeMu.Lock()
	}
}

func (p *proxy) unlockWrites() {
	if p.serialize {
		p.writeMu.Unlock()
	}
}

// roundTrip sends req to FerretDB and reads its reply.
func roundTrip(backend net.Conn, req []byte) ([]byte, error) {
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
		return nil, fmt.Errorf("short message (%d bytes announced): %w", n, err)
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

	// OP_MSG flag bits.
	flagChecksumPresent = 1 << 0
	flagMoreToCome      = 1 << 1
)

func opCode(msg []byte) int32 {
	return int32(binary.LittleEndian.Uint32(msg[12:16]))
}

func requestID(msg []byte) int32 {
	return int32(binary.LittleEndian.Uint32(msg[4:8]))
}

// isWrite reports whether req is a write command. A message it cannot parse
// is treated as a write: serialising it is safe, just slower.
func isWrite(req []byte) bool {
	switch opCode(req) {
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

// moreToCome reports whether req is an OP_MSG whose sender expects no reply.
func moreToCome(req []byte) bool {
	return opCode(req) == opMsg && len(req) >= 20 &&
		binary.LittleEndian.Uint32(req[16:20])&flagMoreToCome != 0
}

// commandName is for log messages.
func commandName(req []byte) string {
	if opCode(req) != opMsg {
		return fmt.Sprintf("opcode %d", opCode(req))
	}

	name, _ := opMsgCommand(req)

	return name
}

// opMsgCommand returns the command name: the first key of the body (kind 0)
// section of an OP_MSG.
func opMsgCommand(msg []byte) (string, bool) {
	if len(msg) < 21 {
		return "", false
	}

	end := len(msg)
	if binary.LittleEndian.Uint32(msg[16:20])&flagChecksumPresent != 0 {
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

// opMsgBody returns the body document of an OP_MSG made of exactly one kind 0
// section (no document sequences, no checksum, no flags other than allowed).
func opMsgBody(msg []byte, allowedFlags uint32) (wirebson.RawDocument, bool) {
	if len(msg) < 21+5 || opCode(msg) != opMsg {
		return nil, false
	}

	if binary.LittleEndian.Uint32(msg[16:20])&^allowedFlags != 0 || msg[20] != 0 {
		return nil, false
	}

	body := msg[21:]
	if int(int32(binary.LittleEndian.Uint32(body))) != len(body) {
		return nil, false
	}

	return wirebson.RawDocument(body), true
}

// newOpMsg builds an OP_MSG with flags 0 and a single kind 0 section.
func newOpMsg(requestID, responseTo int32, body []byte) []byte {
	msg := make([]byte, 21, 21+len(body))
	binary.LittleEndian.PutUint32(msg[0:], uint32(21+len(body)))
	binary.LittleEndian.PutUint32(msg[4:], uint32(requestID))
	binary.LittleEndian.PutUint32(msg[8:], uint32(responseTo))
	binary.LittleEndian.PutUint32(msg[12:], opMsg)
	// flags (16:20) and section kind (20) are 0

	return append(msg, body...)
}

// createIndexesPlan is a createIndexes request with two or more indexes,
// decoded: the command document (shallow) and each index specification.
type createIndexesPlan struct {
	cmd   *wirebson.Document
	specs []wirebson.RawDocument
}

// planCreateIndexes returns a plan if req is an OP_MSG createIndexes with two
// or more index specifications, and nil for any other message (forwarded as
// is; so is anything unusual: a checksum, document sequences, undecodable
// BSON).
func planCreateIndexes(req []byte) *createIndexesPlan {
	if name, ok := opMsgCommand(req); !ok || name != "createIndexes" {
		return nil
	}

	body, ok := opMsgBody(req, flagMoreToCome)
	if !ok {
		return nil
	}

	cmd, err := body.Decode()
	if err != nil {
		return nil
	}

	rawIndexes, ok := cmd.Get("indexes").(wirebson.RawArray)
	if !ok {
		return nil
	}

	indexes, err := rawIndexes.Decode()
	if err != nil || indexes.Len() < 2 {
		return nil
	}

	plan := &createIndexesPlan{cmd: cmd, specs: make([]wirebson.RawDocument, indexes.Len())}
	for i := range plan.specs {
		if plan.specs[i], ok = indexes.Get(i).(wirebson.RawDocument); !ok {
			return nil // FerretDB answers with a type error before it can panic
		}
	}

	return plan
}

// withIndexes encodes the plan's command with the given index specifications
// in place of its own.
func (plan *createIndexesPlan) withIndexes(specs ...wirebson.RawDocument) ([]byte, error) {
	arr := wirebson.MakeArray(len(specs))
	for _, s := range specs {
		if err := arr.Add(s); err != nil {
			return nil, err
		}
	}

	doc := wirebson.MakeDocument(plan.cmd.Len())
	for name, v := range plan.cmd.All() {
		if name == "indexes" {
			v = arr
		}

		if err := doc.Add(name, v); err != nil {
			return nil, err
		}
	}

	raw, err := doc.Encode()
	if err != nil {
		return nil, err
	}

	return raw, nil
}

// specField returns a top-level field of an index specification (nil if the
// specification cannot be decoded or has no such field).
func specField(spec wirebson.RawDocument, name string) any {
	doc, err := spec.Decode()
	if err != nil {
		return nil
	}

	return doc.Get(name)
}

// createIndexesOneByOne runs a createIndexes of several indexes as one
// createIndexes per index, and answers as FerretDB (and MongoDB) answer the
// whole command. The caller holds the write lock, so no other write runs in
// between.
//
// Why: FerretDB v1.24's validateIndexesForCreation removes each requested
// index that already exists (same name and key) with
// slices.Delete(filtered, i, i+1), where i indexes the original list. After
// one removal the indexes no longer match: with two existing indexes the
// second Delete panics ("slice bounds out of range [:2:1]") and FerretDB
// drops the connection; with an existing index before a new one, the wrong
// entry is removed and the new index is silently not created. A command with
// a single index cannot hit this.
//
// Semantics kept:
//   - Conflicts between the requested indexes themselves (same name or same
//     key: FerretDB checks these before the existing ones) are reported by
//     sending FerretDB just the first conflicting pair, which it rejects with
//     its own error before creating anything.
//   - If one index fails (FerretDB checks every specification before it
//     creates anything), what this command created before it is undone: the
//     collection, if this command created it and writes are serialised (no
//     other write can have used it meanwhile), else the indexes it created.
//     The error reply is passed on unchanged.
//   - The reply carries numIndexesBefore of the first index, numIndexesAfter
//     of the last, createdCollectionAutomatically or the note "all indexes
//     already exist", and ok.
func (p *proxy) createIndexesOneByOne(backend net.Conn, req []byte, plan *createIndexesPlan) ([]byte, error) {
	id := requestID(req)

	// Conflicts within the request: compare names and (raw) keys.
	for j := 1; j < len(plan.specs); j++ {
		nameJ, _ := specField(plan.specs[j], "name").(string)
		keyJ, _ := specField(plan.specs[j], "key").(wirebson.RawDocument)

		for i := 0; i < j; i++ {
			nameI, _ := specField(plan.specs[i], "name").(string)
			keyI, _ := specField(plan.specs[i], "key").(wirebson.RawDocument)

			if (nameI != "" && nameI == nameJ) || (keyI != nil && bytes.Equal(keyI, keyJ)) {
				body, err := plan.withIndexes(plan.specs[i], plan.specs[j])
				if err != nil {
					return roundTrip(backend, req) // cannot happen: decoded just before
				}

				return roundTrip(backend, newOpMsg(id, 0, body))
			}
		}
	}

	bodies := make([][]byte, len(plan.specs))
	for i, spec := range plan.specs {
		var err error
		if bodies[i], err = plan.withIndexes(spec); err != nil {
			return roundTrip(backend, req) // cannot happen: decoded just before
		}
	}

	var (
		before, after int32
		createdColl   bool
		created       []string // names of the indexes created so far, for rollback
		lastReply     []byte
	)

	for i, body := range bodies {
		reply, err := roundTrip(backend, newOpMsg(id, 0, body))
		if err != nil {
			return nil, err
		}
		lastReply = reply

		res := decodeReply(reply)
		if res == nil || !isOK(res.Get("ok")) {
			p.undoCreateIndexes(backend, id, plan, createdColl, created)
			return reply, nil
		}

		b, _ := toInt32(res.Get("numIndexesBefore"))
		a, _ := toInt32(res.Get("numIndexesAfter"))
		if i == 0 {
			before = b
		}
		after = a

		if a > b {
			name, _ := specField(plan.specs[i], "name").(string)
			created = append(created, name)
		}

		if c, ok := res.Get("createdCollectionAutomatically").(bool); ok && c {
			createdColl = true
		}
	}

	res := wirebson.MakeDocument(4)
	_ = res.Add("numIndexesBefore", before)
	_ = res.Add("numIndexesAfter", after)
	if len(created) > 0 {
		_ = res.Add("createdCollectionAutomatically", createdColl)
	} else {
		_ = res.Add("note", "all indexes already exist")
	}
	_ = res.Add("ok", float64(1))

	body, err := res.Encode()
	if err != nil {
		return nil, err
	}

	return newOpMsg(requestID(lastReply), id, body), nil
}

// undoCreateIndexes undoes the part of a failed createIndexes that succeeded:
// it drops the collection if the command created it (and writes are
// serialised), else the named indexes. Failures are only logged.
func (p *proxy) undoCreateIndexes(backend net.Conn, id int32, plan *createIndexesPlan, createdColl bool, names []string) {
	coll, _ := plan.cmd.Get("createIndexes").(string)
	db, _ := plan.cmd.Get("$db").(string)

	run := func(pairs ...any) {
		doc, err := wirebson.NewDocument(pairs...)
		if err == nil {
			_ = doc.Add("$db", db)

			var body, reply []byte
			if body, err = doc.Encode(); err == nil {
				if reply, err = roundTrip(backend, newOpMsg(id, 0, body)); err == nil {
					if res := decodeReply(reply); res == nil || !isOK(res.Get("ok")) {
						err = fmt.Errorf("failed: %v", res)
					}
				}
			}
		}

		if err != nil {
			p.logger.Warn("proxy: cannot undo part of a failed createIndexes",
				"db", db, "collection", coll, "command", pairs, "error", err)
		}
	}

	if createdColl && p.serialize {
		run("drop", coll)
		return
	}

	for _, name := range names {
		run("dropIndexes", coll, "index", name)
	}
}

// decodeReply decodes the body of an OP_MSG reply (nil if it is something else).
func decodeReply(reply []byte) *wirebson.Document {
	body, ok := opMsgBody(reply, 0)
	if !ok {
		// with a checksum, the body ends 4 bytes earlier
		if len(reply) < 21+5+4 || binary.LittleEndian.Uint32(reply[16:20]) != flagChecksumPresent {
			return nil
		}

		body = wirebson.RawDocument(reply[21 : len(reply)-4])
		if int(int32(binary.LittleEndian.Uint32(body))) != len(body) {
			return nil
		}
	}

	doc, err := body.Decode()
	if err != nil {
		return nil
	}

	return doc
}

func isOK(v any) bool {
	switch v := v.(type) {
	case float64:
		return v == 1
	case int32:
		return v == 1
	case int64:
		return v == 1
	case bool:
		return v
	default:
		return false
	}
}

func toInt32(v any) (int32, bool) {
	switch v := v.(type) {
	case int32:
		return v, true
	case int64:
		return int32(v), true
	case float64:
		return int32(v), true
	default:
		return 0, false
	}
}
