package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Flags may follow a command's arguments (btfs create DIR -o x.torrent,
// btfs mount X.torrent /mnt -v), as users of most tools expect. urfave/cli
// v2 stops reading flags at the first argument that is not one, so
// interspersed rearranges the command line before it parses it:
//   - a command's own flags (and -h/--help) move ahead of its arguments, each
//     with its value when it takes one ("-o x", "--output=x", "-o=x");
//   - btfs's global flags (-v) found among a command's move ahead of the
//     command's name;
//   - "--" ends the flags: what follows stays an argument, even "-x";
//   - "-" alone is an argument (standard input, by convention);
//   - a subcommand (cache ls) gets the same treatment below its parent;
//   - an unknown flag moves like a flag without a value, so that the parser
//     still names it in its error;
//   - a command line for shell completion, or whose command is unknown, is
//     left as it is.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 || args[len(args)-1] == "--generate-bash-completion" {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	for len(rest) > 0 && isFlag(rest[0]) { // global flags before the command
		n := flagLen(rest, globalFlags(app))
		out, rest = append(out, rest[:n]...), rest[n:]
	}
	if len(rest) == 0 {
		return args
	}
	cmd := findCommand(app.Commands, rest[0])
	if cmd == nil {
		return args
	}
	var hoisted []string
	cmdArgs := reorderCommand(app, cmd, rest[1:], &hoisted)
	out = append(out, hoisted...)
	out = append(out, rest[0])
	return append(out, cmdArgs...)
}

// reorderCommand puts cmd's flags ahead of its arguments; global flags go
// to *hoisted.
func reorderCommand(app *cli.App, cmd *cli.Command, args []string, hoisted *[]string) []string {
	own := commandFlags(cmd)
	var flags, positional []string
	for i := 0; i < len(args); {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			return joinFlags(flags, positional, true)
		case !isFlag(a):
			if len(positional) == 0 && len(cmd.Subcommands) > 0 {
				if sub := findCommand(cmd.Subcommands, a); sub != nil {
					return append(append(flags, a), reorderCommand(app, sub, args[i+1:], hoisted)...)
				}
			}
			positional = append(positional, a)
			i++
		case lookupFlag(own, a) == nil && lookupFlag(globalFlags(app), a) != nil:
			n := flagLen(args[i:], globalFlags(app))
			*hoisted = append(*hoisted, args[i:i+n]...)
			i += n
		default:
			n := flagLen(args[i:], own)
			flags = append(flags, args[i:i+n]...)
			i += n
		}
	}
	return joinFlags(flags, positional, false)
}

func joinFlags(flags, positional []string, dashes bool) []string {
	out := slices.Clip(flags)
	if dashes {
		out = append(out, "--")
	}
	return append(out, positional...)
}

// isFlag reports whether a looks like a flag: "-x", "--xx", not "-" or "--".
func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' && a != "--" }

// flagLen is how many arguments the flag at args[0] spans: 2 for a flag that
// takes a value given apart, 1 otherwise.
func flagLen(args []string, flags []cli.Flag) int {
	if strings.Contains(args[0], "=") || len(args) < 2 {
		return 1
	}
	if tv, ok := lookupFlag(flags, args[0]).(interface{ TakesValue() bool }); ok && tv.TakesValue() {
		return 2
	}
	return 1
}

// lookupFlag finds the flag that a ("-o", "--output=x") names, or nil.
func lookupFlag(flags []cli.Flag, a string) cli.Flag {
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// commandFlags are cmd's flags with the help flag that urfave/cli adds.
func commandFlags(cmd *cli.Command) []cli.Flag {
	return append(slices.Clip(cmd.Flags), cli.HelpFlag)
}

// globalFlags are btfs's own flags with the ones urfave/cli adds.
func globalFlags(app *cli.App) []cli.Flag {
	return append(slices.Clip(app.Flags), cli.HelpFlag, cli.VersionFlag)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
