/* Statistics the detectors share: Shapiro-Wilk W (PRADA) and PSI (drift). */
#include <math.h>
#include <stdlib.h>

#include "analytics/an_features.h"

/* Inverse of the standard normal CDF (Acklam's rational approximation,
 * relative error below 1.2e-9: far below what W needs). */
static double qnorm(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    double q, r;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - 0.02425) {
        q = sqrt(-2 * log(1 - p));
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    q = p - 0.5;
    r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

static double poly(const double *cc, int nord, double x)
{
    double ret = cc[0];
    if (nord > 1) {
        double p = x * cc[nord - 1];
        for (int j = nord - 2; j > 0; j--)
            p = (p + cc[j]) * x;
        ret += p;
    }
    return ret;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Royston (1992), as in AS R94 (swilk.c): coefficients from normal order
 * statistics with polynomial corrections for the two extreme ones. */
double an_shapiro_w(double *x, int n)
{
    static const double c1[] = {0., .221157, -.147981, -2.07119, 4.434685, -2.706056};
    static const double c2[] = {0., .042981, -.293762, -1.752461, 5.682633, -3.582633};
    if (n < 3 || n > 5000)
        return 1;
    qsort(x, (size_t)n, sizeof *x, cmp_dbl);
    double range = x[n - 1] - x[0];
    if (range < 1e-12)
        return 1;
    int nn2 = n / 2;
    double m[2500], a[2500];
    double an = n;
    double summ2 = 0;
    for (int i = 0; i < nn2; i++) {
        m[i] = qnorm((i + 1 - .375) / (an + .25));
        summ2 += m[i] * m[i];
    }
    summ2 *= 2;
    double ssumm2 = sqrt(summ2);
    double rsn = 1 / sqrt(an);
    double a1 = poly(c1, 6, rsn) - m[0] / ssumm2;
    int i1;
    double fac;
    if (n == 3) {
        a[0] = sqrt(0.5);
        i1 = nn2 + 1;
        fac = 1;
    } else if (n > 5) {
        i1 = 3;
        double a2 = -m[1] / ssumm2 + poly(c2, 6, rsn);
        fac = sqrt((summ2 - 2 * (m[0] * m[0]) - 2 * (m[1] * m[1])) /
                   (1 - 2 * (a1 * a1) - 2 * (a2 * a2)));
        a[1] = a2;
        a[0] = a1;
    } else {
        i1 = 2;
        fac = sqrt((summ2 - 2 * (m[0] * m[0])) / (1 - 2 * (a1 * a1)));
        a[0] = a1;
    }
    for (int i = i1; i <= nn2; i++)
        a[i - 1] = -m[i - 1] / fac;

    double mean = 0;
    for (int i = 0; i < n; i++)
        mean += x[i];
    mean /= n;
    double ssq = 0;
    for (int i = 0; i < n; i++)
        ssq += (x[i] - mean) * (x[i] - mean);
    double num = 0;
    for (int i = 0; i < nn2; i++)
        num += a[i] * (x[n - 1 - i] - x[i]);
    double w = num * num / ssq;
    return w > 1 ? 1 : w;
}

double an_psi(const double *ref_prop, uint32_t nref, const uint32_t *cnt, int nbins)
{
    double total = 0;
    for (int i = 0; i < nbins; i++)
        total += cnt[i];
    if (total <= 0 || nref == 0)
        return 0;
    /* An empty bin's share is not 0 but unknown below about one count: it
     * is taken as half a count of its sample (the window's, the
     * reference's). A floor as small as 1e-4 made one absent category of a
     * few per cent worth 0.3-0.4 of PSI on its own, in a window where its
     * absence is a matter of chance (a 5 % category is missing from 50
     * events one time in thirteen). A bin empty in both says nothing. */
    double pf = 0.5 / total, qf = 0.5 / nref;
    double psi = 0;
    for (int i = 0; i < nbins; i++) {
        if (cnt[i] == 0 && ref_prop[i] <= 0)
            continue;
        double p = cnt[i] / total, q = ref_prop[i];
        if (p < pf)
            p = pf;
        if (q < qf)
            q = qf;
        psi += (p - q) * log(p / q);
    }
    return psi;
}
