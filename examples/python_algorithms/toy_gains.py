"""The toy gain calibration written in Python: the same physics as the C plugin ExampleGainAlgorithm
(examples/ExampleGainAlgorithm), with numpy and scipy instead of GSL. It runs in the toy campaign
(examples/toy_campaign.yaml, calibration gain_python) beside the C version, and the science test checks
that both recover the true gains and agree with each other within their uncertainties.

Every hit's amplitude is gain * energy and most hits deposit a fixed energy (peak_energy), so each
channel's amplitude spectrum peaks at gain * peak_energy. For the requested runs we take the merged
channel x amplitude histogram, fit a Gaussian on a straight line around each channel's peak (weights
1/max(count, 1), as the C version) and save per channel the gain, its uncertainty and a dead flag. A live
channel with fewer than min_entries counts in its peak window is NOT_ENOUGH_DATA (the strategy then
merges more runs); a failed fit is a FAILURE.

    - python: python_algorithms.toy_gains:calibrate     # this file, beside the campaign file
      parameters: {min_entries: 60, payload: ExampleGainsPython}
"""
import numpy as np
from scipy.optimize import curve_fit

import caf

DEFAULTS = {"histogram": "amplitude", "payload": "ExampleGains", "peak_energy": 100.0, "min_entries": 100,
            "search_low": 50.0, "search_high": 250.0, "fit_half_width": 12.0}


def peak_model(x, amplitude, mean, sigma, b0, b1, x0):
    return amplitude * np.exp(-0.5 * ((x - mean) / sigma) ** 2) + b0 + b1 * (x - x0)


def fit_peak(x, counts, width, p):
    """(mean, mean_error, entries) of the peak in [search_low, search_high]; mean None when the fit fails."""
    inside = (x >= p["search_low"]) & (x <= p["search_high"])
    # the bin whose three-bin neighbourhood holds the most counts
    smoothed = np.convolve(counts, [1.0, 1.0, 1.0], mode="same")
    peak = int(np.flatnonzero(inside)[np.argmax(smoothed[inside])])
    window = np.abs(x - x[peak]) <= p["fit_half_width"] + 1e-9
    xw, yw = x[window], counts[window]
    entries = int(yw.sum())
    if len(xw) < 6:
        return None, None, entries
    edge = 0.5 * (yw[0] + yw[-1])
    x0 = x[peak]
    start = [max(counts[peak] - edge, 1.0), x0, max(p["fit_half_width"] / 4.0, width), edge, 0.0]

    def model(xx, a, mu, s, b0, b1):
        return peak_model(xx, a, mu, s, b0, b1, x0)

    try:
        values, covariance = curve_fit(model, xw, yw, p0=start, sigma=np.sqrt(np.maximum(yw, 1.0)),
                                       absolute_sigma=True, maxfev=2000)
    except (RuntimeError, ValueError):
        return None, None, entries
    chi2 = float((((model(xw, *values) - yw) ** 2) / np.maximum(yw, 1.0)).sum())
    chi2_ndf = chi2 / (len(xw) - len(values))
    mean, error = float(values[1]), float(np.sqrt(covariance[1, 1]) * max(1.0, np.sqrt(chi2_ndf)))
    if not (xw[0] <= mean <= xw[-1]) or values[0] <= 0 or not np.isfinite(error):
        return None, None, entries
    return mean, error, entries


def calibrate(ctx: caf.AlgorithmContext):
    p = {**DEFAULTS, **ctx.params}
    h = ctx.get_object(p["histogram"])
    if not isinstance(h, caf.Hist2D):
        return caf.Result.FAILURE, f"object {p['histogram']} is not a channel x amplitude hist2d"
    x = 0.5 * (h.yedges[:-1] + h.yedges[1:])
    width = (h.yhigh - h.ylow) / h.ny
    channels = h.nx
    gain, error, dead = np.zeros(channels), np.zeros(channels), np.zeros(channels)
    for c in range(channels):
        counts = h.contents[c]
        if counts.sum() == 0:
            dead[c] = 1.0
            continue
        mean, mean_error, entries = fit_peak(x, counts, width, p)
        if entries < p["min_entries"]:
            return (caf.Result.NOT_ENOUGH_DATA,
                    f"channel {c} has {entries} entries in its peak window, fewer than {p['min_entries']}")
        if mean is None:
            return caf.Result.FAILURE, f"channel {c}: the peak fit failed ({entries} entries)"
        gain[c], error[c] = mean / p["peak_energy"], mean_error / p["peak_energy"]
    ctx.save_payload(p["payload"], {"gain": gain, "gain_error": error, "dead": dead,
                                    "peak_energy": float(p["peak_energy"])})
    live = dead == 0
    ctx.output_state["calibrated_channels"] = int(live.sum())
    ctx.output_state["mean_gain"] = float(gain[live].mean()) if live.any() else 0.0
    print(f"{int(live.sum())} of {channels} channels calibrated, mean gain {ctx.output_state['mean_gain']:.4f}")
    return caf.Result.OK
