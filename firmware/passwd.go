package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/lobby-fw/lobby/internal/admin"
	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/uci"
)

// passwd is `lobby passwd` (SPEC §1): a new admin password, read twice from
// the terminal with echo off, or once from stdin when it is not a terminal
// (echo 'secret…' | lobby passwd), hashed into option password_hash of
// config admin. Exit 0 written, 1 error, 2 usage. The password and its hash
// are never printed.
func passwd(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lobby passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", config.DefaultPath, "config file")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return 2
	}
	if _, err := os.Stat(*path); err != nil {
		fmt.Fprintf(stderr, "lobby passwd: %v\n", err)
		return 1
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "lobby passwd: %v\n", err)
		return 1
	}
	hash, err := admin.HashPassword(pw)
	if err != nil {
		fmt.Fprintf(stderr, "lobby passwd: %v\n", err)
		return 1
	}
	if err := uci.SetFile(*path, "admin", "admin", "password_hash", hash); err != nil {
		fmt.Fprintf(stderr, "lobby passwd: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "admin password set in %s; a reload (reload_config, or SIGHUP) puts it into use\n", *path)
	return 0
}

// readPassword reads the password twice with echo off from a terminal, or
// one line from anything else.
func readPassword(in *os.File, prompt io.Writer) (string, error) {
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		// Not a terminal: one line, as from a pipe or a script.
		line, err := readLine(in)
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		return line, nil
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", fmt.Errorf("turn terminal echo off: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	var pw [2]string
	for i, p := range []string{"New admin password: ", "Again: "} {
		fmt.Fprint(prompt, p)
		line, err := readLine(in)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		pw[i] = line
	}
	if pw[0] != pw[1] {
		return "", errors.New("the two passwords differ; nothing written")
	}
	return pw[0], nil
}

// readLine reads up to a line end byte by byte, so that nothing past it is
// consumed, and drops the line end (LF or CRLF).
func readLine(in io.Reader) (string, error) {
	var b []byte
	var c [1]byte
	for len(b) < 4096 {
		n, err := in.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				return string(bytes.TrimSuffix(b, []byte{'\r'})), nil
			}
			b = append(b, c[0])
		}
		if err != nil {
			return string(bytes.TrimSuffix(b, []byte{'\r'})), err
		}
	}
	return "", errors.New("password longer than 4096 bytes")
}
