import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pansharpen_cli.base.tiling import clipped_extent, pad_symmetric, plan_tiles, spread_sample


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 300), st.integers(1, 300), st.integers(4, 64), st.integers(0, 20))
def test_tile_cores_partition_the_grid(h, w, tile, halo):
    seen = np.zeros((h, w), int)
    for t in plan_tiles(h, w, tile, halo):
        assert 1 <= t.height <= tile and 1 <= t.width <= tile and t.halo == halo
        seen[t.row : t.row + t.height, t.col : t.col + t.width] += 1
    assert (seen == 1).all()


@given(st.integers(0, 100), st.integers(1, 50), st.integers(0, 30), st.integers(0, 100))
def test_clipped_extent_restores_the_halo(start, size, halo, extra):
    limit = start + size + extra  # the core always lies inside the grid
    lo, hi, before, after = clipped_extent(start, size, halo, limit)
    assert 0 <= lo <= start and start + size <= hi <= limit
    assert (hi - lo) + before + after == size + 2 * halo
    assert lo - before == start - halo


def test_symmetric_padding_mirrors_the_edge_pixel():
    a = np.arange(12.0).reshape(1, 3, 4)
    p = pad_symmetric(a, (2, 0, 1, 0))
    assert p.shape == (1, 5, 5)
    np.testing.assert_array_equal(p[0, 2:, 0], a[0, :, 0])  # left pad repeats column 0
    np.testing.assert_array_equal(p[0, 1, 1:], a[0, 0])  # first top pad row repeats row 0
    np.testing.assert_array_equal(p[0, 0, 1:], a[0, 1])


def test_spread_sample_is_deterministic_and_covers_the_ends():
    tiles = plan_tiles(100, 100, 10, 0)
    s = spread_sample(tiles, 5)
    assert s == spread_sample(tiles, 5) and s[0] == tiles[0] and s[-1] == tiles[-1] and len(s) == 5
