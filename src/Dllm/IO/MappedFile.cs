using System.IO.MemoryMappedFiles;

namespace Dllm.IO;

/// <summary>
/// A whole file mapped read-only with its base pointer acquired: what <see cref="SafeTensorsFile"/> and
/// <see cref="GgufFile"/> hold their tensors in. Disposing unmaps it; every pointer handed out becomes invalid.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _mmf;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;

    /// <summary>File length in bytes.</summary>
    public long Length { get; }

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _base == null;

    /// <summary>The first byte of the file.</summary>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public byte* Base => _base != null ? _base : throw new ObjectDisposedException(nameof(MappedFile));

    private MappedFile(MemoryMappedFile mmf, MemoryMappedViewAccessor view, byte* basePtr, long length)
    {
        _mmf = mmf; _view = view; _base = basePtr; Length = length;
    }

    /// <summary>Maps <paramref name="fs"/> (non-empty; the mapping takes it over, and disposes it on failure too).</summary>
    public static MappedFile Map(FileStream fs)
    {
        MemoryMappedFile? mmf = null;
        MemoryMappedViewAccessor? view = null;
        byte* ptr = null;
        bool acquired = false;
        try
        {
            long length = fs.Length;
            mmf = MemoryMappedFile.CreateFromFile(fs, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            view = mmf.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            acquired = true;
            // The view may start before offset 0 for page alignment.
            return new MappedFile(mmf, view, ptr + view.PointerOffset, length);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            if (mmf is not null) mmf.Dispose(); else fs.Dispose();
            throw;
        }
    }

    /// <summary>Unmaps the file. Idempotent.</summary>
    public void Dispose()
    {
        if (_base == null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mmf.Dispose();
    }
}
