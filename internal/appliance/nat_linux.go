package appliance

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// natTable is the appliance's own nftables table. The firewall's table
// (inet lobby) decides who may be forwarded; this one only rewrites the
// source of what is forwarded out of an uplink, so the two never touch
// each other's rules.
const natTable = "lobby-nat"

// setupNAT masquerades IPv4 that leaves through the uplinks (the LAN's
// private addresses become the uplink's, as any home router does) and turns
// on IPv4 forwarding. The table is replaced whole, in one transaction, so a
// second boot step or a restart finds exactly these rules. IPv6 is not
// forwarded: the firewall owns that decision (SPEC §3).
func setupNAT(uplinks []string) error {
	if len(uplinks) == 0 {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nat: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: natTable}
	// Add then delete: deleting a table that does not exist fails the
	// whole batch, adding one that exists does nothing.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	ch := c.AddChain(&nftables.Chain{
		Name:     "postrouting",
		Table:    t,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	for _, up := range uplinks {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(up)},
			&expr.Masq{},
		}})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nat: table inet %s: %w (are nf_tables, nft_chain_nat and nft_masq loaded?)", natTable, err)
	}
	if err := sysctl("net/ipv4/ip_forward", "1"); err != nil {
		return fmt.Errorf("nat: %w", err)
	}
	return nil
}

// removeNAT deletes the table at a clean stop.
func removeNAT() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nat: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: natTable}
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nat: remove table inet %s: %w", natTable, err)
	}
	return nil
}

// ifname is an interface name as nftables compares it: IFNAMSIZ bytes,
// NUL padded.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}
