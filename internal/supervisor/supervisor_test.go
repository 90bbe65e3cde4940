package supervisor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.log, " ")
}

func svc(r *recorder, name string, startErr, runErr error) Service {
	return Service{Name: name, Run: func(ctx context.Context, ready func()) error {
		if startErr != nil {
			return startErr
		}
		r.add("start:" + name)
		ready()
		if runErr != nil {
			return runErr
		}
		<-ctx.Done()
		r.add("stop:" + name)
		return nil
	}}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestOrder(t *testing.T) {
	tests := []struct {
		name     string
		services func(*recorder) []Service
		cancel   bool
		wantErr  string
		want     string
	}{
		{
			name: "clean stop in reverse",
			services: func(r *recorder) []Service {
				return []Service{svc(r, "a", nil, nil), svc(r, "b", nil, nil), svc(r, "c", nil, nil)}
			},
			cancel: true,
			want:   "start:a start:b start:c stop:c stop:b stop:a",
		},
		{
			name: "failed start stops the started ones",
			services: func(r *recorder) []Service {
				return []Service{svc(r, "a", nil, nil), svc(r, "b", errors.New("port 53 taken"), nil), svc(r, "c", nil, nil)}
			},
			wantErr: "b: port 53 taken",
			want:    "start:a stop:a",
		},
		{
			name: "failure after start stops everything",
			services: func(r *recorder) []Service {
				return []Service{svc(r, "a", nil, nil), svc(r, "b", nil, nil), svc(r, "c", nil, errors.New("socket gone"))}
			},
			wantErr: "c: socket gone",
			want:    "start:a start:b start:c stop:b stop:a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				go func() {
					for !strings.Contains(r.String(), "start:c") {
						time.Sleep(time.Millisecond)
					}
					cancel()
				}()
			}
			err := Run(ctx, quiet(), tt.services(r)...)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("order %q, want %q", got, tt.want)
			}
		})
	}
}
