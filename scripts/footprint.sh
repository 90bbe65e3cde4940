#!/bin/sh
# make footprint: what each subsystem costs per OpenWrt board, from the
# symbol sizes of its build (docs/openwrt.md, Footprint).
#
# Every board is built twice as `make cross` builds it: stripped
# (build/BOARD/lobby, whose xz -9 size is what the flash pays) and with its
# symbol table (build/footprint/BOARD/lobby, the same code). `go tool nm
# -size` of the second gives each symbol's bytes; they are summed by the
# package the symbol belongs to (a type's descriptors and method tables count
# for the package of the first package-qualified name in them), and the
# packages are grouped as below. What no symbol names — the tables Go keeps
# beside the code (pclntab: function names, lines, stack maps; go:func.*),
# string literals, alignment: about a third of the file — is shared out in
# proportion to each group's code; .bss costs no flash and is left out. Each
# group's share of what the program loads is then applied to the xz -9 size:
# KB of xz, an estimate, since code and tables compress differently. A build
# with and without a feature gives one feature's cost exactly; this is the
# map of all of them.
#
#   BOARDS   the boards (default: every profile with a FLASH_BUDGET)
#   RAW=1    the bytes the program loads per group instead of KB of xz
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
# The OpenWrt boards, smallest budget first.
BOARDS=${BOARDS:-$(grep '^FLASH_BUDGET=' board/*.conf | sort -t= -k2,2n -k1,1 | sed 's,^board/,,; s,\.conf:.*,,')}

# The groups, in order: the first whose package prefix matches takes a
# package. "group<TAB>prefix prefix …"; a prefix takes the package of that
# path and every package below it.
groups='lobby (internal/…, firmware)	github.com/lobby-fw/lobby main
miekg/dns	github.com/miekg/dns
insomniacslk/dhcp (+u-root/uio)	github.com/insomniacslk/dhcp github.com/u-root/uio
google/nftables (+mdlayher/netlink)	github.com/google/nftables github.com/mdlayher/netlink
vishvananda/netlink	github.com/vishvananda
net/http (+textproto, mime, idna)	net/http net/textproto mime vendor/golang.org/x/net/http vendor/golang.org/x/net/idna vendor/golang.org/x/text
crypto/tls + x509 (+asn1, pem)	crypto/tls crypto/x509 encoding/asn1 encoding/pem vendor/golang.org/x/crypto/cryptobyte
other crypto (ciphers, hashes, math/big)	crypto vendor/golang.org/x/crypto math/big
runtime	runtime internal/runtime internal/abi internal/bytealg internal/cpu internal/chacha8rand internal/goarch internal/goos internal/stringslite
net, syscall (+x/sys, x/net, mdlayher/packet)	net syscall internal/poll internal/syscall golang.org/x/sys golang.org/x/net vendor/golang.org/x/net github.com/mdlayher github.com/josharian'

for b in $BOARDS; do
	make --no-print-directory build/"$b"/lobby build/footprint/"$b"/lobby >/dev/null
done

# hex(s): the number a hexadecimal string stands for (mawk has no strtonum).
hex='function hex(s,   i, n) {
	n = 0; s = tolower(s)
	for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return n
}'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for b in $BOARDS; do
	budget=$(sed -n 's/^FLASH_BUDGET=//p' "board/$b.conf")
	stripped=$(stat -c %s "build/$b/lobby")
	xz=$(xz -9 -c "build/$b/lobby" | wc -c)
	bin=build/footprint/$b/lobby
	# What the program loads from flash: its allocated PROGBITS sections
	# (the ELF headers and the symbol table are the rest of the file); and
	# where .bss starts, above which nothing is in the file.
	sections=$(readelf -SW "$bin" | sed 's/^ *\[ *[0-9]*\]//' | awk "$hex"'
		$2 == "PROGBITS" && $7 ~ /A/ { n += hex($5) }
		$1 == ".bss" { bss = $3 }
		END { print n, bss }')
	go tool nm -size "$bin" |
	awk -v budget="$budget" -v xz="$xz" -v stripped="$stripped" -v groups="$groups" -v sections="$sections" "$hex"'
	BEGIN {
		ng = split(groups, lines, "\n")
		for (i = 1; i <= ng; i++) {
			split(lines[i], f, "\t"); name[i] = f[1]
			np[i] = split(f[2], p, " ")
			for (j = 1; j <= np[i]; j++) prefix[i, j] = p[j]
		}
		REST = ng + 1; name[REST] = "the rest (standard library: fmt, time, reflect, encoding/json, log/slog, …)"
		split(sections, sec, " "); loaded = sec[1]; bss = hex(sec[2])
	}
	# pkgof(s): the package of the first package-qualified name in s:
	# PATH.Ident, where the elements of PATH before its last / may have
	# dots (github.com) and its last element has none.
	function pkgof(s) {
		sub(/^(type:|go:itab\.|go:link\.)/, "", s)
		sub(/^\.(eq|hash)\./, "", s)
		if (!match(s, /([A-Za-z0-9_.~-]+\/)*[A-Za-z0-9_~-]+\./)) return ""
		return substr(s, RSTART, RLENGTH - 1)
	}
	function groupof(pkg,   i, j, p) {
		if (pkg in cache) return cache[pkg]
		for (i = 1; i <= ng; i++)
			for (j = 1; j <= np[i]; j++) {
				p = prefix[i, j]
				if (pkg == p || index(pkg, p "/") == 1) return cache[pkg] = i
			}
		return cache[pkg] = REST
	}
	{
		size = $2; type = $3
		if (size == 0 || hex($1) >= bss) next    # .bss and .noptrbss: not in flash
		sym = $4; for (i = 5; i <= NF; i++) sym = sym " " $i
		if (sym ~ /^go:func\./) next    # GC maps of functions: shared out below
		g = groupof(pkgof(sym))
		bytes[g] += size; named += size
		if (type ~ /^[Tt]$/) { code[g] += size; codetotal += size }
	}
	END {
		# What no symbol names goes to the groups in proportion to their code.
		shared = loaded - named
		for (g = 1; g <= REST; g++) bytes[g] += shared * code[g] / codetotal
		for (g = 1; g <= REST; g++)
			printf "%s\t%.0f\t%.0f\n", name[g], bytes[g] / loaded * xz / 1000, bytes[g]
		printf "**`xz -9` of the binary**\t%.0f\t%d\n", xz / 1000, stripped
		printf "**budget**\t%.0f\t-\n", budget / 1000
		printf "**margin**\t%.0f\t-\n", (budget - xz) / 1000
	}' >"$tmp/$b"
done

# One markdown table: a row per group, a column per board; KB of xz, or with
# RAW=1 the bytes the program loads, uncompressed.
set --
for b in $BOARDS; do set -- "$@" "$tmp/$b"; done
awk -v raw="${RAW:-}" -v boards="$BOARDS" '
	FNR == 1 { nf++ }
	{ row[FNR] = $1; v[FNR, nf] = raw ? $3 : $2; if (FNR > rows) rows = FNR }
	END {
		n = split(boards, b, " ")
		printf "| %s |", raw ? "bytes loaded" : "KB of xz -9"
		for (i = 1; i <= n; i++) printf " %s |", b[i]
		printf "\n|---|"
		for (i = 1; i <= n; i++) printf "---:|"
		printf "\n"
		for (r = 1; r <= rows; r++) {
			printf "| %s |", row[r]
			for (i = 1; i <= n; i++) printf " %s |", v[r, i]
			printf "\n"
		}
	}' FS='\t' "$@"
