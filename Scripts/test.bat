@echo off
rem Run the workshop's tests with the environment made by Scripts\environment.bat.
rem   Scripts\test.bat                      the whole suite, on two workers (pytest-xdist)
rem   Scripts\test.bat --quick              the quick tier: proves an attendee's install
rem   Scripts\test.bat tests\test_x.py -x   any pytest arguments
setlocal EnableExtensions DisableDelayedExpansion
cd /d "%~dp0.."
if errorlevel 1 goto :not_set_up
if /i "%~1"=="--help" goto :usage
if not exist .labkit-python goto :not_set_up
set "PY="
set /p PY=<.labkit-python
if not defined PY goto :not_set_up
if not exist "%PY%" goto :broken
if /i "%~1"=="--quick" goto :quick
if not "%~1"=="" goto :as_given
"%PY%" -c "import xdist" >nul 2>&1
if errorlevel 1 goto :as_given
"%PY%" -m pytest -n 2 --dist loadgroup
exit /b %ERRORLEVEL%

:as_given
"%PY%" -m pytest %*
exit /b %ERRORLEVEL%

:quick
rem pytest -m quick, then the other arguments (%* would pass --quick on to pytest)
set "QUICK_ARGS="
:quick_args
shift
if "%~1"=="" goto :quick_run
set QUICK_ARGS=%QUICK_ARGS% %1
goto :quick_args
:quick_run
"%PY%" -m pytest -m quick %QUICK_ARGS%
exit /b %ERRORLEVEL%

:usage
echo Usage: Scripts\test.bat [--quick] [pytest arguments]
echo Runs "python -m pytest" from the repository root with the interpreter that
echo Scripts\environment.bat recorded in .labkit-python. Exit status: pytest's.
echo   --quick   only the quick tier - pytest -m quick - about a minute: TensorFlow and
echo             Keras import, the data verifies, the workshop's Jupyter kernel is registered,
echo             and every lab's first cells run in it up to the first exercise's check.
echo             It is all an attendee needs; the whole suite is for maintainers and CI.
echo With no arguments the whole suite runs on two workers - pytest -n 2 --dist loadgroup.
echo Tests that need a dataset this machine does not have are skipped, and a WARNING
echo at the end of the run names the datasets and the command that fetches them.
exit /b 0

:not_set_up
echo ERROR: the workshop environment is not set up yet - no .labkit-python. 1>&2
echo        Run Scripts\environment.bat, then run this script again. 1>&2
exit /b 2

:broken
echo ERROR: the environment recorded in .labkit-python - %PY% - is missing. 1>&2
echo        Run Scripts\environment.bat --force, then run this script again. 1>&2
exit /b 2
