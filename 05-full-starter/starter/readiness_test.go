package starter

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseNotify(t *testing.T) {
	m := parseNotify([]byte("READY=1\nSTATUS=serving 3 conns\nMAINPID=42\nBOGUS\nX=1"))
	assert.Equal(t, notifyMsg{ready: true, status: "serving 3 conns"}, m)
	m = parseNotify([]byte("STOPPING=1"))
	assert.True(t, m.stopping)
	assert.False(t, m.ready)
	assert.False(t, parseNotify([]byte("READY=0")).ready)
}
