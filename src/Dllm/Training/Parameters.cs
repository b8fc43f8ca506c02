using System.Runtime.InteropServices;
using Dllm.Tensors;

namespace Dllm.Training;

/// <summary>One named tensor inside <see cref="Parameters"/>: a slice [Offset, Offset + Length) of the flat arrays.</summary>
/// <param name="IsBias">A bias vector: initialised to zero (norm weights, the other vectors, to one).</param>
public sealed record ParameterTensor(string Name, long Offset, int[] Shape, bool IsBias = false)
{
    public int Length => Shape.Aggregate(1, (a, b) => a * b);
    /// <summary>Matrices get weight decay; 1-D tensors (norm weights, biases) do not.</summary>
    public bool IsMatrix => Shape.Length >= 2;
}

/// <summary>
/// All float32 parameters of a model in one flat pinned array, with a gradient array of the same
/// layout (llm.c style). Tensors are named as in the Hugging Face checkpoint and laid out in the
/// order they were added. The arrays live on the pinned object heap, so <see cref="Matrix"/> views
/// stay valid for the object's lifetime.
/// </summary>
public sealed class Parameters
{
    private readonly List<ParameterTensor> _tensors = [];
    private readonly Dictionary<string, ParameterTensor> _byName = [];
    private float[] _values = [];
    private float[] _grads = [];
    private bool _frozen;

    public IReadOnlyList<ParameterTensor> Tensors => _tensors;
    /// <summary>All values, flat.</summary>
    public float[] Values => _values;
    /// <summary>All gradients, flat, same layout as <see cref="Values"/>.</summary>
    public float[] Grads => _grads;
    public long Count => _values.Length;

    /// <summary>Elements declared so far (what <see cref="Allocate"/> will allocate).</summary>
    public long DeclaredCount => _tensors.Count == 0 ? 0 : _tensors[^1].Offset + _tensors[^1].Length;

    /// <summary>Declares a tensor; only before <see cref="Allocate"/>.</summary>
    public ParameterTensor Add(string name, params int[] shape) => Add(name, shape, isBias: false);

    /// <summary>Declares a bias vector of <paramref name="length"/> (zero-initialised); only before <see cref="Allocate"/>.</summary>
    public ParameterTensor AddBias(string name, int length) => Add(name, [length], isBias: true);

    /// <exception cref="ArgumentException">A dimension is not positive, or the tensor has more elements than one array holds.</exception>
    private ParameterTensor Add(string name, int[] shape, bool isBias)
    {
        if (_frozen) throw new InvalidOperationException("parameters are already allocated");
        long elements = 1;
        foreach (int dim in shape)
        {
            if (dim <= 0) throw new ArgumentException($"tensor '{name}' has a non-positive dimension in [{string.Join(", ", shape)}]");
            elements *= dim;
            if (elements > Array.MaxLength)
                throw new ArgumentException($"tensor '{name}' of shape [{string.Join(", ", shape)}] would need {IO.MemoryBudget.Format(4.0 * shape.Aggregate(1.0, (a, b) => a * b))}, more than one float32 array holds: train a smaller model");
        }
        long offset = _tensors.Count == 0 ? 0 : _tensors[^1].Offset + _tensors[^1].Length;
        var t = new ParameterTensor(name, offset, shape, isBias);
        _byName.Add(name, t);
        _tensors.Add(t);
        return t;
    }

    /// <summary>Allocates the pinned value and gradient arrays (zeros).</summary>
    public void Allocate()
    {
        long n = DeclaredCount;
        if (n > Array.MaxLength) throw new ArgumentException($"{n:N0} parameters do not fit one float32 array (at most {Array.MaxLength:N0}): train a smaller model");
        _values = GC.AllocateArray<float>((int)n, pinned: true);
        _grads = GC.AllocateArray<float>((int)n, pinned: true);
        _frozen = true;
    }

    public ParameterTensor this[string name] => _byName.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"no parameter named '{name}'");

    public Span<float> Value(ParameterTensor t) => _values.AsSpan((int)t.Offset, t.Length);
    public Span<float> Grad(ParameterTensor t) => _grads.AsSpan((int)t.Offset, t.Length);

    /// <summary>A live read-only view of a tensor's values (what the model reads; the optimiser writes through <see cref="Values"/>).</summary>
    public ReadOnlyMemory<float> Memory(ParameterTensor t) => new(_values, (int)t.Offset, t.Length);

    /// <summary>The gradient of the values a <see cref="Matrix"/> view shows (same offset, same length).</summary>
    /// <exception cref="ArgumentException">The view does not point into these parameters.</exception>
    public Span<float> GradOf(in MatrixView view)
    {
        nint start = Marshal.UnsafeAddrOfPinnedArrayElement(_values, 0);
        long offset = (view.Data - start) / sizeof(float), length = (long)view.Rows * view.Cols;
        if (view.DType != DType.F32 || offset < 0 || offset + length > _values.Length)
            throw new ArgumentException($"the view {view} does not show these parameters");
        return _grads.AsSpan((int)offset, (int)length);
    }

    /// <summary>The gradient of the values a <see cref="Memory"/> view shows.</summary>
    /// <exception cref="ArgumentException">The view does not point into these parameters.</exception>
    public Span<float> GradOf(ReadOnlyMemory<float> view)
        => MemoryMarshal.TryGetArray(view, out ArraySegment<float> s) && ReferenceEquals(s.Array, _values)
            ? _grads.AsSpan(s.Offset, s.Count)
            : throw new ArgumentException("the vector does not show these parameters");

    /// <summary>A row-major (rows × cols) view of a 2-D tensor's values.</summary>
    public MatrixView Matrix(ParameterTensor t)
    {
        if (t.Shape.Length != 2) throw new ArgumentException($"'{t.Name}' is not a matrix");
        nint p = Marshal.UnsafeAddrOfPinnedArrayElement(_values, 0) + (nint)(t.Offset * sizeof(float));
        return MatrixView.RowMajor(p, DType.F32, t.Shape[0], t.Shape[1]);
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGrad() => Array.Clear(_grads);
}
