package capture

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	recs := []Record{{1300, []byte(`audit(1.000:1): arch=c000003e key="a"`)}, {1327, []byte("audit(1.000:1): proctitle=2F62696E\t")}}
	path := filepath.Join(t.TempDir(), "r.txt")
	if err := Write(path, "# test\n", recs); err != nil {
		t.Fatal(err)
	}
	got := Load(t, path, 2)
	if len(got) != 2 || got[0].Type != 1300 || string(got[1].Payload) != string(recs[1].Payload) {
		t.Fatalf("round trip: %+v", got)
	}
}

func TestReadErrorsNameTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.txt")
	os.WriteFile(path, []byte("# c\n1300\t\"ok\"\nx\t\"bad\"\n"), 0o644)
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "r.txt:3") {
		t.Fatalf("Read = %v, want an error naming line 3", err)
	}
}

func TestRepositoryCapture(t *testing.T) {
	Load(t, "../../testdata/records.txt", 1000)
}
