package installer

import "testing"

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.4.0", "1.4.0", 0},
		{"1.4.0", "1.5.0", -1},
		{"1.10.0", "1.9.9", 1},
		{"v1.4", "1.4.0", 0},
		{"1.4.0-rc.1", "1.4.0", -1},
		{"1.4.0-rc.2", "1.4.0-rc.10", -1},
		{"v1.31.4+k3s1", "v1.31.4+k3s2", -1},
		{"v1.31.4+k3s1", "v1.31.4+k3s1", 0},
		{"2.0.0", "1.99.99", 1},
		{"1.4.0", "1.4.0+k3s1", -1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_vs_"+tt.b, func(t *testing.T) {
			if got := compareVersions(tt.a, tt.b); got != tt.want {
				t.Errorf("compareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := compareVersions(tt.b, tt.a); got != -tt.want {
				t.Errorf("compareVersions(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
			}
		})
	}
}
