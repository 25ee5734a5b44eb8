// argolua runs an Argo CD resource health script the way Argo CD does: in gopher-lua (the Lua
// VM Argo CD embeds), with the object read as JSON on stdin in the global `obj` (JSON objects and
// arrays as tables, arrays 1-based, null as nil), the script's returned table read back.
// Usage: argolua SCRIPT < object.json. Output: the health status, a newline, the message.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	lua "github.com/yuin/gopher-lua"
)

func toLua(l *lua.LState, v interface{}) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []interface{}:
		t := l.NewTable()
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]interface{}:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: argolua SCRIPT < object.json")
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("reading the script: %v", err)
	}
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	var obj interface{}
	if err := json.Unmarshal(data, &obj); err != nil {
		fail("stdin is not JSON: %v", err)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer l.Close()
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(string(script)); err != nil {
		fail("the script failed: %v", err)
	}
	hs, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		fail("the script returned %s, not a table", l.Get(-1).Type())
	}
	status := hs.RawGetString("status")
	message := hs.RawGetString("message")
	msg := ""
	if message != lua.LNil {
		msg = message.String()
	}
	fmt.Printf("%s\n%s", status.String(), msg)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "argolua: "+format+"\n", args...)
	os.Exit(1)
}
