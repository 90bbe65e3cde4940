//go:build !linux

// Lobby is Linux-only (README, Platforms). On another GOOS this file's
// package clause differs from the rest of firmware/, so the build stops at
// once with one line naming it, instead of the many errors of the packages
// that need Linux.
package lobby_is_linux_only_build_it_with_GOOS_linux
