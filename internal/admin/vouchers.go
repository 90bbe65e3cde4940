package admin

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/ctl"
	"github.com/lobby-fw/lobby/internal/voucher"
)

// batchKeys are the batch form's fields, named as `ctl voucher create`'s
// keys: the form is read by ctl.ParseBatch, over config voucher's
// defaults, so that a batch made here is made as ctl makes it.
var batchKeys = []string{"duration", "devices", "download", "upload", "quota", "valid", "note"}

// vouchers serves the Vouchers page: the batch form, the batches with
// their print links, and every code with its use.
func (s *Server) vouchers(w http.ResponseWriter, r *http.Request, v *view) {
	vs := s.d.Vouchers
	if vs == nil {
		v.Error = "Vouchers are not available here."
		s.render(w, http.StatusOK, "Vouchers", s.pages.message, v)
		return
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		switch r.PostForm.Get("action") {
		case "create":
			made, err := s.createBatch(r)
			if err == nil {
				s.d.Log.Info("admin: vouchers made", "count", len(made), "from", remote(r).String())
				http.Redirect(w, r, "/vouchers?batch="+strconv.FormatUint(made[0].Batch, 10)+"&made="+strconv.Itoa(len(made)), http.StatusSeeOther)
				return
			}
			v.Error, status = "No codes made: "+err.Error(), http.StatusBadRequest
		case "revoke":
			c, err := voucher.Parse(r.PostForm.Get("code"))
			if err == nil {
				_, err = vs.Revoke(r.Context(), c)
			}
			if err != nil {
				v.Error, status = "Not revoked: "+err.Error(), http.StatusBadRequest
			} else {
				s.d.Log.Info("admin: voucher revoked", "code", c.String(), "from", remote(r).String())
				v.Message = "Revoked " + c.String() + "; its devices are signed out."
			}
		default:
			v.Error, status = "Unknown action.", http.StatusBadRequest
		}
	} else if n, err := strconv.Atoi(r.URL.Query().Get("made")); err == nil {
		// Only numbers from the query reach the page: a link cannot put
		// words of its own there.
		v.Message = "Made " + strconv.Itoa(n) + " codes."
		if id, err := strconv.ParseUint(r.URL.Query().Get("batch"), 10, 64); err == nil {
			v.Batch = strconv.FormatUint(id, 10)
		}
	}

	d := vs.Defaults()
	v.Defaults = ctl.Gives(voucher.Limits(d))
	if d.Valid > 0 {
		v.Defaults += ", valid for " + config.FormatDuration(d.Valid) + " unused"
	}
	var batches, codes bytes.Buffer
	list := vs.List() // newest batch first
	for i, c := range list {
		if i == 0 || list[i-1].Batch != c.Batch {
			s.pages.batch.Render(&batches, s.batchRow(list[i:], v.CSRF))
		}
		if i >= listCodes {
			continue
		}
		row := &view{CSRF: v.CSRF, Code: c.Code.String(), State: c.State.String(),
			Devices:  fmt.Sprintf("%d of %d", len(c.Devices), c.Limits.Devices),
			TimeLeft: "no limit", DataLeft: "no limit", Note: c.Note,
			Revocable: c.State == voucher.Unused || c.State == voucher.Active}
		if c.TimeLeft >= 0 {
			row.TimeLeft = config.FormatDuration(c.TimeLeft.Truncate(time.Minute))
		}
		if c.BytesLeft >= 0 {
			row.DataLeft = bytesText(uint64(c.BytesLeft))
		}
		s.pages.code.Render(&codes, row)
	}
	v.Batches, v.Rows, v.Empty = batches.String(), codes.String(), len(list) == 0
	if len(list) > listCodes {
		v.More = fmt.Sprintf("The newest %d of %d codes; lobby ctl voucher list shows every one.", listCodes, len(list))
	}
	s.render(w, status, "Vouchers", s.pages.vouchers, v)
}

// createBatch makes the batch the form asks for: its fields as the
// KEY=VALUE arguments of `ctl voucher create`, empty ones left to the
// defaults.
func (s *Server) createBatch(r *http.Request) ([]voucher.View, error) {
	args := []string{r.PostForm.Get("count")}
	if args[0] == "" {
		args[0] = "1"
	}
	for _, k := range batchKeys {
		if val := r.PostForm.Get(k); val != "" {
			args = append(args, k+"="+val)
		}
	}
	b, err := ctl.ParseBatch(s.d.Vouchers.Defaults(), args)
	if err != nil {
		return nil, err
	}
	return s.d.Vouchers.Create(r.Context(), b)
}

// batchRow is the line of the batch whose codes begin list.
func (s *Server) batchRow(list []voucher.View, csrf string) *view {
	first := list[0]
	row := &view{CSRF: csrf, Batch: strconv.FormatUint(first.Batch, 10), Since: stamp(first.Created),
		Note: first.Note, Gives: ctl.Gives(first.Limits)}
	n, unused := 0, 0
	for _, c := range list {
		if c.Batch != first.Batch {
			break
		}
		n++
		if c.State == voucher.Unused {
			unused++
		}
	}
	row.Count = fmt.Sprintf("%d, %d unused", n, unused)
	return row
}

// listCodes and sheetCards bound what one page holds, so that a batch of
// thousands of codes cannot make a router build a page of megabytes: the
// code list shows the newest listCodes, a sheet sheetCards cards (8 pages
// of 12) and links to the next.
const (
	listCodes  = 300
	sheetCards = 96
)

// Paper sizes of the print sheet: @page's names for them.
var papers = map[string]string{"a4": "A4", "letter": "letter"}

// printSheet serves the cards of a batch's unused codes, to print: three
// across and four down on A4 or Letter, none split across pages; sheetCards
// of them from the from'th.
func (s *Server) printSheet(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	paper, ok := papers[strings.ToLower(q.Get("paper"))] // the next link carries @page's name
	id, err := strconv.ParseUint(q.Get("batch"), 10, 64)
	from := 0
	if f := q.Get("from"); f != "" && err == nil {
		from, err = strconv.Atoi(f)
		if from < 0 {
			err = errors.New("from < 0")
		}
	}
	if !ok || err != nil || s.d.Vouchers == nil {
		http.NotFound(w, r)
		return
	}
	venue := s.d.Settings().VenueName
	urls := s.conf.Load().Portal
	var cards bytes.Buffer
	n := 0
	for _, c := range s.d.Vouchers.List() {
		if c.Batch != id || c.State != voucher.Unused {
			continue
		}
		n++
		if n <= from || n > from+sheetCards {
			continue
		}
		qr, err := qrSVG(urls.Voucher(c.Code.String()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		card := &view{VenueName: venue, Code: c.Code.String(), Gives: ctl.Gives(c.Limits), QR: qr}
		if !c.ValidUntil.IsZero() {
			card.ValidUntil = c.ValidUntil.Local().Format("2006-01-02")
		}
		s.pages.card.Render(&cards, card)
	}
	v.Paper, v.Batch, v.VenueName, v.Rows, v.Empty = paper, strconv.FormatUint(id, 10), venue, cards.String(), n <= from
	v.Count = fmt.Sprintf("%d–%d of %d", min(from+1, n), min(from+sheetCards, n), n)
	if n > from+sheetCards {
		v.Next = strconv.Itoa(from + sheetCards)
	}
	var b bytes.Buffer
	s.pages.sheet.Render(&b, v)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}
