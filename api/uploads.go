package api

import (
	"crypto/sha256"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"sync"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// uploadRetryAfter is the wait a refused upload is told: uploads take
// seconds, a place is likely free again by then.
const uploadRetryAfter = "2"

// uploadGate caps the uploads in progress: in the process, and per
// account, so that one account cannot take every place.
type uploadGate struct {
	perProcess, perAccount int
	gauge                  prometheus.Gauge

	mu        sync.Mutex
	running   int
	byAccount map[uuid.UUID]int
}

func newUploadGate(perProcess, perAccount int, gauge prometheus.Gauge) *uploadGate {
	return &uploadGate{perProcess: perProcess, perAccount: perAccount, gauge: gauge, byAccount: map[uuid.UUID]int{}}
}

// enter takes a place for one of account's uploads, or refuses with
// errTooManyUploads (the account's places are taken) or errUploadsBusy
// (the process's are). leave gives the place back.
func (g *uploadGate) enter(account uuid.UUID) (leave func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.byAccount[account] >= g.perAccount:
		return nil, errTooManyUploads
	case g.running >= g.perProcess:
		return nil, errUploadsBusy
	}
	g.running++
	g.byAccount[account]++
	g.gauge.Set(float64(g.running))
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.running--
			if g.byAccount[account]--; g.byAccount[account] == 0 {
				delete(g.byAccount, account)
			}
			g.gauge.Set(float64(g.running))
		})
	}, nil
}

// multipartOverhead is what a multipart body may add around the file.
const multipartOverhead = 64 << 10

// spooled is an upload's file part, written to an unlinked temporary
// file as it arrived, with its size and SHA-256 counted on the way.
type spooled struct {
	file        *os.File
	name, ctype string
	size        int64
	sum         [sha256.Size]byte
}

func (s *spooled) content() commands.FileContent {
	return commands.FileContent{ReaderAt: s.file, Size: s.size, SHA256: s.sum}
}

func (s *spooled) close() {
	if s != nil && s.file != nil {
		_ = s.file.Close()
	}
}

// uploadFile takes a multipart/form-data body with one part named "file".
// Before the body is read, the upload takes a place (uploadGate) and the
// account's quota is checked against its Content-Length; the file is then
// streamed to a temporary file, never held whole in memory, and from
// there to the database in chunks. The idempotency fingerprint covers the
// file's name, type and bytes, not the multipart framing, whose boundary
// differs on every retry.
func (a *API) uploadFile(w http.ResponseWriter, r *http.Request) error {
	id, err := PathID(r, "id")
	if err != nil {
		return err
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return unsupportedMediaType("multipart/form-data with one part named \"file\"")
	}
	tok := tokenFrom(r.Context())
	leave, err := a.uploads.enter(tok.AccountID)
	if err != nil {
		w.Header().Set("Retry-After", uploadRetryAfter)
		return err
	}
	defer leave()
	if r.ContentLength > multipartOverhead {
		used, err := a.q.FileBytes(r.Context(), tok.AccountID)
		if err != nil {
			return err
		}
		if size := r.ContentLength - multipartOverhead; used+size > a.quota {
			return &commands.QuotaError{Quota: a.quota, Size: size}
		}
	}
	f, err := a.spool(http.MaxBytesReader(w, r.Body, a.maxUpload+multipartOverhead), params["boundary"])
	defer f.close()
	if err != nil {
		return err
	}
	idem, err := idempotency(r, []byte(f.name), []byte(f.ctype), f.sum[:])
	if err != nil {
		return err
	}
	res, err := a.cmd.AttachFile.Handle(r.Context(), commands.AttachFile{AccountID: tok.AccountID, LeadID: id, Scope: scopeFrom(r.Context()),
		Name: f.name, ContentType: f.ctype, Content: f.content(), Quota: a.quota, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	out := a.fileOut(id, res.File)
	w.Header().Set("Location", out.URL)
	w.Header().Set("ETag", `"`+res.File.SHA256+`"`)
	writeWritten(w, http.StatusCreated, res.Written, out)
	return nil
}

// spool reads a multipart body whose one part is "file" into an unlinked
// temporary file; any other part is an unknown field. The file is
// returned even with an error, to be closed.
func (a *API) spool(body io.Reader, boundary string) (*spooled, error) {
	mr := multipart.NewReader(body, boundary)
	var f *spooled
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return f, readError(err, a.maxUpload, "body", "the multipart body could not be read")
		}
		if part.FormName() != "file" || f != nil {
			return f, domain.Invalid(shorten(part.FormName()), domain.CodeUnknownField, "the upload takes one part, named \"file\"")
		}
		if f, err = a.spoolPart(part); err != nil {
			return f, err
		}
	}
	if f == nil {
		return nil, domain.Invalid("file", domain.CodeRequired, "a part named \"file\" holding the file is required")
	}
	return f, nil
}

// spoolPart copies one part to a new temporary file (in TMPDIR), which is
// unlinked at once: it is gone with the process, however that ends.
func (a *API) spoolPart(part *multipart.Part) (*spooled, error) {
	tmp, err := os.CreateTemp("", "leadsvc-upload-*")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(tmp.Name())
	f := &spooled{file: tmp, name: safeFileName(part.FileName()), ctype: part.Header.Get("Content-Type")}
	h := sha256.New()
	head := &sniffer{}
	n, err := io.Copy(io.MultiWriter(tmp, h, head), io.LimitReader(part, a.maxUpload+1))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return f, err // the disk, not the client
		}
		return f, readError(err, a.maxUpload, "file", "the file part could not be read")
	}
	if n > a.maxUpload {
		return f, bodyTooLarge(a.maxUpload)
	}
	f.size = n
	h.Sum(f.sum[:0])
	if mt, params, err := mime.ParseMediaType(f.ctype); err == nil {
		f.ctype = mime.FormatMediaType(mt, params)
	} else {
		f.ctype = ""
	}
	if f.ctype == "" || f.ctype == "application/octet-stream" {
		f.ctype = http.DetectContentType(head.b)
	}
	return f, nil
}

// readError is a failure to read the request body: past the body's
// limit 413, otherwise 400 blaming field.
func readError(err error, limit int64, field, msg string) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return bodyTooLarge(limit)
	}
	return badRequest(field, CodeMalformed, msg)
}

// sniffer keeps the first 512 bytes written, all that
// http.DetectContentType reads.
type sniffer struct{ b []byte }

func (s *sniffer) Write(p []byte) (int, error) {
	if room := 512 - len(s.b); room > 0 {
		s.b = append(s.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
