package bot

import (
	"fmt"
	"strings"
)

// Arg is one argument of a command's grammar.
type Arg int

// The argument kinds. The parser reads them in the order a command lists
// them.
const (
	ArgTicket   Arg = iota // TICKET: a Jira key
	ArgEnv                 // ENV: a configured env
	ArgEnvOpt              // [ENV]
	ArgCountOpt            // [N]: how many, 1 to maxCount
	ArgReason              // [reason]: the rest of the text
	ArgSoakOpt             // [--override-soak reason]: the rest of the text
)

func (a Arg) String() string {
	switch a {
	case ArgTicket:
		return "TICKET"
	case ArgEnv:
		return "ENV"
	case ArgEnvOpt:
		return "[ENV]"
	case ArgCountOpt:
		return "[N]"
	case ArgReason:
		return "[reason]"
	case ArgSoakOpt:
		return "[" + overrideSoakFlag + " reason]"
	}
	return "?"
}

// Args are a command's parsed arguments.
type Args struct {
	Ticket string // a valid ticket key, upper case
	Env    string // a valid env name, lower case
	N      int    // 0 when not given
	Reason string
	// OverrideSoak is the reason given with --override-soak, "" without.
	OverrideSoak string
}

// Command is one entry of the command table: its grammar, its help and
// its handler.
type Command struct {
	// Name is the first word (/release status). The default command
	// (/release TICKET ENV) is named too ("release") but is run without it.
	Name    string
	Args    []Arg
	Summary string
	Run     Handler
}

// Usage is the command's synopsis, e.g. "/release history ENV [N]".
func (c Command) Usage(def bool) string {
	parts := []string{SlashCommand}
	if !def {
		parts = append(parts, c.Name)
	}
	for _, a := range c.Args {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, " ")
}

// SlashCommand is the bot's one slash command.
const SlashCommand = "/release"

// Table is the command table: it drives dispatch, help and the check of
// manifest.yml. It is built once, at start, and never changes.
type Table struct {
	cmds   []Command
	byName map[string]int
	def    string
}

// NewTable returns the table of cmds; def names the command run when the
// first word is not a command name. A duplicate or empty name, or a
// missing default, panics: it is a programming error found at start.
func NewTable(def string, cmds ...Command) *Table {
	t := &Table{byName: map[string]int{}, def: def}
	for _, c := range cmds {
		if c.Name == "" || strings.ToLower(c.Name) != c.Name || strings.ContainsAny(c.Name, " \t") {
			panic(fmt.Sprintf("bot: bad command name %q", c.Name))
		}
		if _, dup := t.byName[c.Name]; dup {
			panic("bot: command registered twice: " + c.Name)
		}
		if c.Run == nil {
			panic("bot: command without a handler: " + c.Name)
		}
		t.byName[c.Name] = len(t.cmds)
		t.cmds = append(t.cmds, c)
	}
	if _, ok := t.byName[def]; !ok {
		panic("bot: the default command is not registered: " + def)
	}
	return t
}

// Lookup returns the command named name.
func (t *Table) Lookup(name string) (Command, bool) {
	i, ok := t.byName[name]
	if !ok {
		return Command{}, false
	}
	return t.cmds[i], true
}

// Default returns the command run without a name.
func (t *Table) Default() Command { c, _ := t.Lookup(t.def); return c }

// Commands returns the commands in registration order.
func (t *Table) Commands() []Command { return append([]Command(nil), t.cmds...) }

// Names returns the command names in registration order.
func (t *Table) Names() []string {
	out := make([]string, len(t.cmds))
	for i, c := range t.cmds {
		out[i] = c.Name
	}
	return out
}

// UsageOf returns the synopsis of the named command.
func (t *Table) UsageOf(name string) string {
	c, _ := t.Lookup(name)
	return c.Usage(name == t.def)
}

// Help is the help text, generated from the table.
func (t *Table) Help() string {
	var b strings.Builder
	b.WriteString("*Code-Releaser* merges a ticket's branch into an env branch, deploys it and tells the channel.\n")
	for _, c := range t.cmds {
		fmt.Fprintf(&b, "• `%s` — %s\n", c.Usage(c.Name == t.def), c.Summary)
	}
	b.WriteString("Ticket and env are forgiving: `/release jira-123 to Dev` works.")
	return b.String()
}
