package datadriven

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	src := `# comment

cmd a b=1 c=(x, y)
in1
in2
----
out1
out2

empty
----

blank
----
----
one

two
----
----

last
----
done
`
	chunks, err := parse("f", src)
	require.NoError(t, err)
	var ds []*TestData
	var rebuilt strings.Builder
	for _, c := range chunks {
		if c.d == nil {
			rebuilt.WriteString(c.text)
			continue
		}
		ds = append(ds, c.d)
		rebuilt.WriteString(c.text)
		writeOutput(&rebuilt, c.d.Expected)
	}
	require.Len(t, ds, 4)
	d := ds[0]
	require.Equal(t, "cmd", d.Cmd)
	require.Equal(t, "f:3", d.Pos)
	require.True(t, d.HasArg("a"))
	require.Equal(t, "1", d.Arg("b", ""))
	require.Equal(t, []string{"x", "y"}, d.Vals("c"))
	require.Equal(t, "z", d.Arg("a", "z"))
	require.Equal(t, "in1\nin2", d.Input)
	require.Equal(t, "out1\nout2\n", d.Expected)
	require.Equal(t, "", ds[1].Expected)
	require.Equal(t, "one\n\ntwo\n", ds[2].Expected)
	require.Equal(t, "done\n", ds[3].Expected)
	// Rewriting the expected outputs gives the file back.
	require.Equal(t, src+"\n", rebuilt.String())

	_, err = parse("f", "cmd\nno separator\n")
	require.ErrorContains(t, err, "no ---- separator")
	_, _, err = parseCommand("cmd a=(x")
	require.Error(t, err)
}
