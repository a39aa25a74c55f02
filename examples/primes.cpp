// A 20-line function: the sieve of Eratosthenes (used for the CPU latency figure in docs/translation.md).
#include <vector>
using namespace std;

vector<int> primesUpTo(int n) {
    vector<bool> isPrime(n + 1, true);
    vector<int> primes;
    if (n < 2) {
        return primes;
    }
    isPrime[0] = false;
    isPrime[1] = false;
    for (int p = 2; p * p <= n; p++) {
        if (isPrime[p]) {
            for (int i = p * p; i <= n; i += p) {
                isPrime[i] = false;
            }
        }
    }
    for (int i = 2; i <= n; i++) {
        if (isPrime[i]) primes.push_back(i);
    }
    return primes;
}
