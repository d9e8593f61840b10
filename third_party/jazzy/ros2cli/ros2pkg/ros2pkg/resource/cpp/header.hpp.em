#ifndef @(package_name.upper())__@(library_name.upper())_HPP_
#define @(package_name.upper())__@(library_name.upper())_HPP_

#include "@(package_name)/visibility_control.h"

namespace @(package_name)
{

class @(class_name)
{
public:
  @(class_name)();

  virtual ~@(class_name)();
};

}  // namespace @(package_name)

#endif  // @(package_name.upper())__@(library_name.upper())_HPP_
