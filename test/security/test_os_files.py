"""Escape probes: host files and their metadata (victims live in the test's own tmp dir)."""
from __future__ import annotations

import os
import stat

import pytest

FILES = pytest.mark.probe(category="files and metadata")


@pytest.fixture
def victim_file(tmp_path):  # noqa: ANN001,ANN201
    """A 0644 file (and its dir, 0755) that the kernel must not change."""
    os.chmod(tmp_path, 0o755)
    f = tmp_path / "victim.bin"
    f.write_bytes(b"original")
    os.chmod(f, 0o644)
    return f


def _snap(p) -> tuple:  # noqa: ANN001
    st = os.stat(p)
    return (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_size, p.read_bytes())


@FILES
def test_chmod_setuid_on_host_file(run, victim_file) -> None:  # noqa: ANN001
    before = _snap(victim_file)
    run(f"print(T(os.chmod, {str(victim_file)!r}, 0o4755))")
    assert _snap(victim_file) == before and not os.stat(victim_file).st_mode & stat.S_ISUID


@FILES
def test_utime_on_host_file(run, victim_file) -> None:  # noqa: ANN001
    before = _snap(victim_file)
    run(f"print(T(os.utime, {str(victim_file)!r}, (1, 1)))")
    assert _snap(victim_file) == before


@FILES
def test_setxattr_on_host_file(run, victim_file) -> None:  # noqa: ANN001
    run(f"print(T(os.setxattr, {str(victim_file)!r}, 'user.probe', b'x'))")
    try:
        assert "user.probe" not in os.listxattr(victim_file)
    except OSError:
        pass                                    # no xattr support here: nothing could be set


@FILES
def test_chown_host_file(run, victim_file) -> None:  # noqa: ANN001
    before = _snap(victim_file)
    run(f"print(T(os.chown, {str(victim_file)!r}, 4242, 4242))")
    assert _snap(victim_file) == before


@FILES
def test_mknod_device_node(run, tmp_path) -> None:  # noqa: ANN001
    out = run(f"print(T(os.mknod, {str(tmp_path / 'kmsg')!r}, 0o20600, os.makedev(1, 11)))\n"
              "print(T(os.mknod, 'kmsg', 0o20600, os.makedev(1, 11)))\n"
              "print(T(lambda: op('kmsg', 'rb').read(10)))")
    assert not (tmp_path / "kmsg").exists()
    assert out[1].startswith("err:") and out[2].startswith("err:")


@pytest.mark.probe(category="files and metadata", needs=('mountns', 'landlock'))
def test_write_host_file(run, victim_file) -> None:  # noqa: ANN001
    before = _snap(victim_file)
    run(f"print(T(lambda: op({str(victim_file)!r}, 'r+b').write(b'owned!!!')))")
    assert _snap(victim_file) == before


@pytest.mark.probe(category="files and metadata", needs=('mountns', 'landlock'))
def test_create_file_in_host_dir(run, tmp_path) -> None:  # noqa: ANN001
    run(f"print(T(lambda: op({str(tmp_path / 'new.txt')!r}, 'w').write('x')))\n"
        f"print(T(np.save, {str(tmp_path / 'new.npy')!r}, np.zeros(3)))")
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.probe(category="files and metadata", needs=('mountns', 'landlock'))
def test_unlink_and_rename_host_file(run, victim_file) -> None:  # noqa: ANN001
    run(f"print(T(os.unlink, {str(victim_file)!r}))\n"
        f"print(T(os.rename, {str(victim_file)!r}, {str(victim_file) + '.moved'!r}))")
    assert not os.path.exists(str(victim_file) + ".moved")
    assert victim_file.exists() and victim_file.read_bytes() == b"original"


@FILES
def test_links_into_host_dir(run, victim_file) -> None:  # noqa: ANN001
    d = victim_file.parent
    run(f"print(T(os.symlink, '/etc/passwd', {str(d / 'sym')!r}))\n"
        f"print(T(os.link, {str(victim_file)!r}, {str(d / 'hard')!r}))\n"
        f"print(T(os.symlink, {str(victim_file)!r}, 'in_scratch'))")
    assert sorted(os.listdir(d)) == ["victim.bin"] and os.stat(victim_file).st_nlink == 1


@FILES
def test_truncate_host_file_by_path(run, victim_file) -> None:  # noqa: ANN001
    run(f"print(T(os.truncate, {str(victim_file)!r}, 0))\n"
        f"print(S(76, {str(victim_file).encode()!r}, 0))")       # truncate(2) on x86_64
    assert victim_file.read_bytes() == b"original"


@pytest.mark.probe(category="files and metadata", needs=('mountns', 'landlock'))
def test_read_secret_file(run, tmp_path) -> None:  # noqa: ANN001
    os.chmod(tmp_path, 0o755)
    key = tmp_path / "id_ed25519"
    key.write_text("PRIVATE-KEY-MATERIAL-42")
    os.chmod(key, 0o600)
    out = run(f"print(T(lambda: op({str(key)!r}).read()))\n"
              f"print(T(lambda: np.fromfile({str(key)!r}, dtype=np.uint8).tobytes()))")
    assert not any("PRIVATE-KEY" in x for x in out)


@pytest.mark.probe(category="files and metadata", needs=('mountns', 'landlock'))
def test_read_world_readable_file_outside_the_view(run, tmp_path) -> None:  # noqa: ANN001
    os.chmod(tmp_path, 0o755)
    f = tmp_path / "public.txt"
    f.write_text("WORLD-READABLE-BUT-OUTSIDE")
    os.chmod(f, 0o644)
    out = run(f"print(T(lambda: op({str(f)!r}).read()))")
    assert not any("WORLD-READABLE" in x for x in out)


@FILES
def test_file_handles_bypass_paths(run, victim_file) -> None:  # noqa: ANN001
    # name_to_handle_at + open_by_handle_at would open a file by inode, around any path check
    out = run(f"buf = ct.create_string_buffer(136)\nct.c_uint.from_buffer(buf).value = 128\n"
              f"mid = ct.c_int()\n"
              f"print(S(303, -100, {str(victim_file).encode()!r}, buf, ct.byref(mid), 0))\n"
              f"print(S(304, -100, buf, 2))")
    assert all(x.startswith("err:") for x in out) and victim_file.read_bytes() == b"original"


@pytest.mark.probe(category="files and metadata", needs=('mountns', 'landlock'))
def test_writes_to_the_read_only_view(run) -> None:  # noqa: ANN001
    import numpy as np

    pkg = os.path.dirname(np.__file__)
    out = run(f"print(T(lambda: op({os.path.join(pkg, 'probe.txt')!r}, 'w').write('x')))\n"
              f"print(T(os.chmod, {np.__file__!r}, 0o777))")
    assert not os.path.exists(os.path.join(pkg, "probe.txt"))
    assert all(x.startswith("err:") for x in out)
