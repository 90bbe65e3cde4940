package appliance

import (
	"bytes"
	"encoding/binary"
)

// The ext2/3/4 superblock starts 1024 bytes into the device; its magic
// and volume name sit at fixed offsets (Documentation/filesystems/ext4/
// super.rst in the kernel tree).
const (
	extSuperOffset = 1024
	extMagicOffset = extSuperOffset + 0x38
	extLabelOffset = extSuperOffset + 0x78
	extLabelLen    = 16
	extMagic       = 0xEF53
	// extProbeLen is how much of a device extLabel needs.
	extProbeLen = extLabelOffset + extLabelLen
)

// extLabel returns the volume label of an ext2/3/4 file system whose first
// bytes are b, and whether b holds one at all.
func extLabel(b []byte) (string, bool) {
	if len(b) < extProbeLen || binary.LittleEndian.Uint16(b[extMagicOffset:]) != extMagic {
		return "", false
	}
	l := b[extLabelOffset : extLabelOffset+extLabelLen]
	if i := bytes.IndexByte(l, 0); i >= 0 {
		l = l[:i]
	}
	return string(l), true
}
