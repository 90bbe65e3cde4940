package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		path   string
		status int
		n      int // bytes of zeros in the body, for a 200
	}{
		{"/bytes/0", 200, 0},
		{"/bytes/1", 200, 1},
		{"/bytes/100000", 200, 100000},
		{"/bytes/" + strconv.Itoa(maxBytes+1), 400, 0},
		{"/bytes/-1", 400, 0},
		{"/bytes/lots", 400, 0},
		{"/bytes/", 400, 0},
	} {
		rec := httptest.NewRecorder()
		originHandler(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, rec.Code, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if body := rec.Body.Bytes(); len(body) != tc.n || bytes.Count(body, []byte{0}) != tc.n ||
			rec.Header().Get("Content-Length") != strconv.Itoa(tc.n) {
			t.Errorf("%s: %d bytes (%d zeros), Content-Length %q, want %d", tc.path, len(body), bytes.Count(body, []byte{0}), rec.Header().Get("Content-Length"), tc.n)
		}
	}
	// Every other path is still the origin page.
	rec := httptest.NewRecorder()
	originHandler(rec, httptest.NewRequest(http.MethodGet, "/bytesx/1", nil))
	if !bytes.Contains(rec.Body.Bytes(), []byte(OriginMarker)) {
		t.Errorf("/bytesx/1 is not the origin page:\n%s", rec.Body)
	}
}
