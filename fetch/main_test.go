package fetch

import (
	"os"
	"testing"

	"github.com/btfs/btfs/internal/leakcheck"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "btfs/btfs/fetch.", "btfs/btfs/filestore."))
}
