package emulator

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLocationTaskSearch(t *testing.T) {
	e := newEnv(t, Options{})
	e.loadCorpus()
	all := func(body map[string]any) []string {
		t.Helper()
		var ids []string
		for skip := 0; ; skip += 10 {
			b := map[string]any{"limit": 10, "skip": skip}
			for k, v := range body {
				b[k] = v
			}
			r := e.do("POST", "/locations/"+DefaultLocationID+"/tasks/search", b)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			tasks := r.body["tasks"].([]any)
			for _, tk := range tasks {
				ids = append(ids, tk.(map[string]any)["id"].(string))
			}
			if len(tasks) < 10 {
				return ids
			}
		}
	}
	var want, wantDone []string
	for _, c := range e.s.Contacts() {
		for _, tk := range e.s.Tasks(c.ID()) {
			want = append(want, tk.ID())
			if tk.Completed() {
				wantDone = append(wantDone, tk.ID())
			}
		}
	}
	tests := []struct {
		name string
		body map[string]any
		want []string
	}{
		{"all", nil, want},
		{"completed", map[string]any{"completed": true}, wantDone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := all(tt.body)
			sort.Strings(got)
			sort.Strings(tt.want)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("task ids (-want +got):\n%s", diff)
			}
		})
	}
	if len(want) != 24 {
		t.Errorf("corpus has %d tasks on live contacts, want 24", len(want))
	}
	if r := e.do("POST", "/locations/"+DefaultLocationID+"/tasks/search", map[string]any{"page": 1}); r.status != 422 {
		t.Errorf("unknown property: %d", r.status)
	}
}
